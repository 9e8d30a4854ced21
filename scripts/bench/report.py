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
        "deliveries/s from the worker's start to the last delivery (deliveries a citizen's later change superseded before they "
        "went are not owed: never stale). *Paced*: changes recorded at a fixed rate "
        "with the worker running; latency per change from the start of its `record` call to the arrival of its "
        "last delivery.",
        "",
        "| backend | changes | recorded changes/s | backlog: superseded | backlog deliveries/s | paced: offered deliveries/s | delivered/s "
        "| p50 ms | p99 ms | max ms | not delivered | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        if r.get("error"):
            lines.append(f"| {backend_name(r['backend'])} | {r['error']} |" + " |" * 10)
            continue
        b, p = r.get("backlog", {}), r.get("paced", {})
        rate = b.get("deliveries_per_second") or 0
        p99 = p.get("latency_p99_ms")
        verdict = (f"≥ {RELAY_TARGET:,}/s: {met(rate >= RELAY_TARGET)}; "
                   f"p99 < 1 s: {met(p99 is not None and p99 < RELAY_P99_MS)}")
        lines.append(
            f"| {backend_name(r['backend'])} | {fmt(b.get('changes'))} | {fmt(b.get('changes_recorded_per_second'))} | "
            f"{fmt(b.get('deliveries_superseded'))} | {fmt(rate)} | {fmt(p.get('offered_deliveries_per_second'))} | {fmt(p.get('deliveries_per_second'))} | "
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
        "arrive together share a group commit) from concurrent tokio tasks, with the integrator `broker serve` runs: on "
        "PostgreSQL an append is durable in the queue and the integrator sequences it into the tree; *integrated/s* "
        "counts from the first append to the last record in the tree, *time to integrate* is the integrator's histogram "
        "(the upper bound of the bucket). Then the whole stored log verified (every record re-hashed, "
        "every stored node and signed checkpoint checked).",
        "",
        "| backend | appenders | appends | appends/s | p50 ms | p99 ms | integrated/s | time to integrate p99 | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        if r.get("error"):
            lines.append(f"| {backend_name(r['backend'])} | {r['error']} |" + " |" * 6)
        for a in r.get("appends", []):
            verdict = "—"
            if r["backend"] == "postgres":
                p99 = a.get("time_to_integrate_p99_s")
                verdict = (f"≥ {AUDIT_TARGET:,}/s: {met(a['per_second'] >= AUDIT_TARGET)}; "
                           f"integrate p99 ≤ 1 s: {met(p99 is not None and p99 <= 1)}")
            lines.append(
                f"| {backend_name(r['backend'])} | {a['concurrency']} | {fmt(a['records'])} | {fmt(a['per_second'])} | "
                f"{fmt(a.get('p50_ms'), 2)} | {fmt(a.get('p99_ms'), 2)} | {fmt(a.get('integrated_per_second'))} | "
                f"{seconds(a.get('time_to_integrate_p99_s'))} | {verdict} |"
            )
    lines += [
        "",
        "| backend | verifier | records | seconds | seconds per million | read only, s per million | ratio to reading | target |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        checks = [("`verify::verify` in audit_bench", r.get("verify"))]
        read_floor = (r.get("verify") or {}).get("read_seconds_per_million")
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
                f"{fmt(per_million, 1)}{scaled} | {fmt(read_floor, 1)} | "
                f"{fmt(per_million / read_floor if per_million and read_floor else None, 2)} | {verdict} |"
            )
    lines.append("")
    return lines


def fmt(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def seconds(v):
    if v is None:
        return "—"
    return f"{v * 1000:g} ms" if v < 1 else f"{v:g} s"


def waits_table(waits):
    if not waits or not waits.get("events"):
        return []
    lines = [
        "",
        f"Wait events (`pg_stat_activity`, {waits['samples']} samples every {int(waits['every_seconds'] * 1000)} ms; "
        "sessions of the broker's database that were not idle, by what they waited on; `CPU`: running):",
        "",
        "| wait | sessions per sample | most frequent statement |",
        "|---|---:|---|",
    ]
    for e in waits["events"]:
        query = (e.get("query") or "").replace("|", "\\|")
        lines.append(f"| `{e['wait']}` | {fmt(e['sessions_per_sample'], 2)} | `{query}` |")
    return lines


def mixed_section(run, floor):
    mixed = run.get("mixed")
    if not mixed:
        return []
    if mixed.get("error"):
        return [f"Mixed run: {mixed['error']}.", ""]
    names = {"release": "attribute releases", "token": "token grants", "search": "audit searches (`audit:read`)"}
    feed = mixed.get("feed") or {}
    lines = [
        "#### Mixed run",
        "",
        "Everything at once for the length of a load run: releases, token grants and a privacy office's "
        "audit searches from three `wrk` processes, while `relay_bench feed` records changes "
        f"({fmt(feed.get('changes_per_second'), 1)} changes/s recorded, {fmt(feed.get('deliveries_received'))} of "
        f"{fmt(feed.get('deliveries_owed'))} SETs delivered by the end). Broker: {fmt(mixed.get('broker_cores'), 2)} cores, "
        f"{fmt(mixed.get('broker_cpu_us_per_request'))} µs a request"
        + (f"; PostgreSQL: {fmt(mixed.get('postgres_cores'), 2)} cores. " if run["backend"] == "postgres" else ". ")
        + (f"Audit time to integrate (the broker's histogram; the upper bound of the bucket): p50 ≤ {seconds(mixed.get('integrate_p50_s'))}, "
           f"p99 ≤ {seconds(mixed.get('integrate_p99_s'))} (target p99 ≤ 1 s: {met((mixed.get('integrate_p99_s') or 1e9) <= 1)})."
           if run["backend"] == "postgres" else "Audit records are integrated as they are appended (SQLite's single-writer path)."),
        "",
        "| workload | connections | req/s | ratio to floor | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    floor64 = (floor.get(64) or {}).get("rps")
    for key, w in (mixed.get("workloads") or {}).items():
        ratio = w["rps"] / floor64 if floor64 else None
        lines.append(
            f"| {names.get(key, key)} | {w['connections']} | {fmt(w['rps'])} | {fmt(ratio, 3)} | "
            f"{fmt(w.get('p50_ms'), 2)} | {fmt(w.get('p99_ms'), 2)} | {w.get('errors', 0)} |"
        )
    lines += waits_table(mixed.get("waits"))
    lines.append("")
    return lines


def instances_section(run):
    inst = run.get("instances")
    if not inst or "1" not in inst:
        return []
    lines = [
        "#### One instance, then two, on one database",
        "",
        "Releases at 64 connections in all (two `wrk` of 32: both at the one instance, then one at each).",
        "",
        "| instances | releases/s | p99 ms | errors | broker cores | broker CPU µs/release | PostgreSQL cores |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for count in ("1", "2"):
        r = inst.get(count)
        if not r:
            continue
        lines.append(
            f"| {count} | {fmt(r['rps'])} | {fmt(r.get('p99_ms'), 2)} | {r.get('errors', 0)} | {fmt(r.get('broker_cores'), 2)} | "
            f"{fmt(r.get('broker_cpu_us_per_request'))} | {fmt(r.get('postgres_cores'), 2)} |"
        )
    ratio = inst.get("ratio")
    lines += ["", f"Two instances / one: {fmt(ratio, 2)}× (target ≥ 1.6× where the machine is not saturated: "
                  f"{met(ratio is not None and ratio >= 1.6)})."]
    for count in ("1", "2"):
        if inst.get(count, {}).get("waits"):
            lines += ["", f"{count} instance{'s' if count == '2' else ''}:"] + waits_table(inst[count]["waits"])[1:]
    lines.append("")
    return lines


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
            "| workload | connections | req/s | ratio to floor | p50 ms | p99 ms | CPU µs/req | cores used | errors | audit integrate p99 | target |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
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
                    f"{fmt(r.get('p99_ms'), 2)} | {fmt(r.get('cpu_us_per_request'), 0)} | {fmt(r.get('cores_used'), 2)} | {errors} | "
                    f"{seconds(r.get('integrate_p99_s'))} | {verdict} |"
                )
        lines.append("")
        lines += mixed_section(run, floor)
        lines += instances_section(run)
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
