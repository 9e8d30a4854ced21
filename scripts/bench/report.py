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
    "release_during_relay": ("releases/s while the relay pushes", None),
}

RELAY_TARGET = 2000  # deliveries/s
RELAY_P99_MS = 1000
AUDIT_TARGET = 10000  # durable appends/s on PostgreSQL
VERIFY_TARGET_S = 10  # seconds per million records


def backend_name(b):
    return "PostgreSQL" if b == "postgres" else "SQLite"


def met(ok):
    return "met" if ok else "missed"


def relay_section(report):
    runs = report.get("relay") or []
    if not runs:
        return []
    lines = [
        "### Relay",
        "",
        "`relay_bench run`: the real outbox and delivery worker pushing SETs over HTTP to 20 local receivers "
        "(one department each). *Backlog*: changes recorded with the worker stopped, then drained; "
        "deliveries/s from the worker's start to the last delivery. *Paced*: changes recorded at a fixed rate "
        "with the worker running; latency per change from the start of its `record` call to the arrival of its "
        "last delivery.",
        "",
        "| backend | changes | recorded changes/s | backlog deliveries/s | paced: offered deliveries/s | delivered/s "
        "| p50 ms | p99 ms | max ms | not delivered | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        if r.get("error"):
            lines.append(f"| {backend_name(r['backend'])} | {r['error']} |" + " |" * 9)
            continue
        b, p = r.get("backlog", {}), r.get("paced", {})
        rate = b.get("deliveries_per_second") or 0
        p99 = p.get("latency_p99_ms")
        verdict = (f"≥ {RELAY_TARGET:,}/s: {met(rate >= RELAY_TARGET)}; "
                   f"p99 < 1 s: {met(p99 is not None and p99 < RELAY_P99_MS)}")
        lines.append(
            f"| {backend_name(r['backend'])} | {fmt(b.get('changes'))} | {fmt(b.get('changes_recorded_per_second'))} | "
            f"{fmt(rate)} | {fmt(p.get('offered_deliveries_per_second'))} | {fmt(p.get('deliveries_per_second'))} | "
            f"{fmt(p.get('latency_p50_ms'), 1)} | {fmt(p99, 1)} | {fmt(p.get('latency_max_ms'), 1)} | "
            f"{fmt(r.get('not_delivered'))} | {verdict} |"
        )
    lines.append("")
    return lines


def audit_section(report):
    runs = report.get("audit") or []
    if not runs:
        return []
    lines = [
        "### Audit log",
        "",
        "`audit_bench`: durable appends through `AuditLog::append` (committed before it returns; appends that "
        "arrive together share a group commit) from concurrent tokio tasks; then the whole stored log verified (every record re-hashed, "
        "every stored node and signed checkpoint checked).",
        "",
        "| backend | appenders | appends | appends/s | p50 ms | p99 ms | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        if r.get("error"):
            lines.append(f"| {backend_name(r['backend'])} | {r['error']} |" + " |" * 4)
        for a in r.get("appends", []):
            verdict = "—"
            if r["backend"] == "postgres":
                verdict = f"≥ {AUDIT_TARGET:,}/s: {met(a['per_second'] >= AUDIT_TARGET)}"
            lines.append(
                f"| {backend_name(r['backend'])} | {a['concurrency']} | {fmt(a['records'])} | {fmt(a['per_second'])} | "
                f"{fmt(a.get('p50_ms'), 2)} | {fmt(a.get('p99_ms'), 2)} | {verdict} |"
            )
    lines += [
        "",
        "| backend | verifier | records | seconds | seconds per million | target |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in runs:
        checks = [("`LogVerifier` in audit_bench", r.get("verify"))]
        if r.get("cli_verify"):
            checks.append((f"`broker audit verify` (exit {r['cli_verify'].get('exit')})", r["cli_verify"]))
        for name, v in checks:
            if not v:
                continue
            per_million = v.get("seconds_per_million")
            scaled = " (scaled)" if (v.get("records") or 0) < 1_000_000 else ""
            verdict = f"< {VERIFY_TARGET_S} s per million: {met(per_million is not None and per_million < VERIFY_TARGET_S)}"
            lines.append(
                f"| {backend_name(r['backend'])} | {name} | {fmt(v.get('records'))} | {fmt(v.get('seconds'), 2)} | "
                f"{fmt(per_million, 1)}{scaled} | {verdict} |"
            )
    lines.append("")
    return lines


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
    floor = {r["connections"]: r for r in report.get("floor") or []}
    for c, r in sorted(floor.items()):
        lines.append(f"| {c} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 2)} | {fmt(r['p99_ms'], 2)} | {fmt(r.get('cpu_us_per_request'), 1)} |")
    micro = report["micro"]
    if micro:
        lines += ["", f"One ES256 signature (ring): {micro.get('floor/es256_sign', '—')}; verification: {micro.get('floor/es256_verify', '—')}."]
    lines.append("")
    for run in report["runs"]:
        b = run["backend"]
        lines += [
            f"### {'PostgreSQL' if b == 'postgres' else 'SQLite'}",
            "",
            f"Seeding: {fmt(run.get('seed_seconds'), 1)} s. Start to ready: {fmt((run.get('ready_seconds') or 0) * 1000, 0)} ms "
            f"(target < 1 s). Idle RSS: {fmt(run.get('idle_rss_mb'), 1)} MB (target < 50 MB). Peak RSS over all runs: "
            f"{fmt(run.get('peak_rss_mb'), 1)} MB (target < 200 MB). Release response: {run.get('release_bytes')} bytes (HTTP {run.get('release_status')}).",
        ]
        feed = run.get("relay_feed")
        if feed and feed.get("error"):
            lines += ["", f"Releases while the relay pushes: {feed['error']}."]
        elif feed:
            lines += [
                "",
                f"Releases while the relay pushes: `relay_bench feed` recorded {fmt(feed.get('changes_recorded'))} changes "
                f"({fmt(feed.get('changes_per_second'), 1)}/s, asked for {fmt(feed.get('rate_changes_per_second'))}/s) into the "
                f"broker's database during the runs; the broker's worker delivered {fmt(feed.get('deliveries_received'))} of "
                f"{fmt(feed.get('deliveries_owed'))} SETs to the 20 receivers by the end ({fmt(feed.get('deliveries_per_second'))}/s).",
            ]
        lines += [
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
    lines += relay_section(report)
    lines += audit_section(report)
    if micro:
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
