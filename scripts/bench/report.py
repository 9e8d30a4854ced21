#!/usr/bin/env python3
"""Renders docs/benchmarks.json into the generated part of docs/benchmarks.md (between the
BEGIN/END GENERATED markers); the analysis around it is written by hand."""

import json
import os
import sys

BEGIN = "<!-- BEGIN GENERATED (scripts/bench/report.py) -->"
END = "<!-- END GENERATED -->"

TARGETS = {
    "token": ("token grants/s", 5000),
    "release": ("attribute releases/s", 3000),
}


def fmt(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def render(report):
    m = report["machine"]
    lines = [
        f"Run of {m['date']} on commit `{m['commit']}`: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GiB, "
        f"Linux {m['kernel']}; {report['citizens']:,} seeded citizens, {report['seconds']} s per load run, "
        "wrk with 2 threads on the same machine (it competes with the broker for the 2 cores).",
        "",
        "### Floor",
        "",
        "| connections | bare actix req/s | p50 ms | p99 ms | server CPU µs/req |",
        "|---:|---:|---:|---:|---:|",
    ]
    floor = {r["connections"]: r for r in report["floor"]}
    for c, r in sorted(floor.items()):
        lines.append(f"| {c} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 2)} | {fmt(r['p99_ms'], 2)} | {fmt(r.get('cpu_us_per_request'), 1)} |")
    micro = report["micro"]
    lines += ["", f"One ES256 signature (ring): {micro.get('floor/es256_sign', '—')}; verification: {micro.get('floor/es256_verify', '—')}.", ""]
    for run in report["runs"]:
        b = run["backend"]
        lines += [
            f"### {'PostgreSQL' if b == 'postgres' else 'SQLite'}",
            "",
            f"Seeding: {fmt(run.get('seed_seconds'), 1)} s. Start to ready: {fmt((run.get('ready_seconds') or 0) * 1000, 0)} ms "
            f"(target < 1 s). Idle RSS: {fmt(run.get('idle_rss_mb'), 1)} MB (target < 50 MB). Peak RSS over all runs: "
            f"{fmt(run.get('peak_rss_mb'), 1)} MB (target < 200 MB). Release response: {run.get('release_bytes')} bytes (HTTP {run.get('release_status')}).",
            "",
            "| workload | connections | req/s | ratio to floor | p50 ms | p99 ms | CPU µs/req | cores used | errors | target |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for kind in ("token", "release", "release_during_relay"):
            for r in run.get(kind, []):
                name, target = TARGETS.get(kind, (kind.replace("_", " "), None))
                ratio = r["rps"] / floor[r["connections"]]["rps"] if floor.get(r["connections"], {}).get("rps") else None
                verdict = "—"
                if target:
                    verdict = f"≥ {target:,}/s: {'met' if r['rps'] >= target else 'missed'}"
                    if kind == "release" and r["connections"] == 64:
                        p99_ok = (r.get("p99_ms") or 1e9) <= 25
                        verdict += f"; p99 ≤ 25 ms: {'met' if p99_ok else 'missed'}"
                errors = r.get("errors", 0)
                if r.get("socket_errors"):
                    errors = f"{errors} ({r['socket_errors']})"
                lines.append(
                    f"| {name} | {r['connections']} | {fmt(r['rps'])} | {fmt(ratio, 3)} | {fmt(r.get('p50_ms'), 2)} | "
                    f"{fmt(r.get('p99_ms'), 2)} | {fmt(r.get('cpu_us_per_request'), 0)} | {fmt(r.get('cores_used'), 2)} | {errors} | {verdict} |"
                )
        lines.append("")
    lines += ["### Micro-benchmarks (criterion, median)", "", "| benchmark | time |", "|---|---:|"]
    for name, t in sorted(micro.items()):
        lines.append(f"| `{name}` | {t} |")
    extra = report.get("extra") or []
    for line in extra:
        lines.append(line)
    return "\n".join(lines)


def main():
    path = sys.argv[1]
    with open(path) as f:
        report = json.load(f)
    md_path = os.path.join(os.path.dirname(path), "benchmarks.md")
    text = open(md_path).read() if os.path.exists(md_path) else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(md_path, "w") as f:
        f.write(head + BEGIN + "\n" + render(report) + "\n" + END + tail)


if __name__ == "__main__":
    main()
