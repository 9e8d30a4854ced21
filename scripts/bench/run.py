#!/usr/bin/env python3
"""Load runs for docs/benchmarks.md (started by scripts/benchmark after a release build).

Measures, in one run on this machine: the criterion micro-benchmarks; the floor (a bare actix
endpoint returning a body of the release response's size, and one ES256 signature); the release
broker on PostgreSQL and on SQLite with N seeded citizens: time to ready, idle RSS, token grants and
attribute releases at 16/64/256 connections (throughput, p50/p99, CPU per request, peak RSS), and
releases while the relay pushes changes (relay_bench in feed mode recording changes into the
broker's database; the broker's own worker delivers them); the relay's throughput and latency
(relay_bench) and the audit log's durable appends and verification (audit_bench) on both backends.
Writes docs/benchmarks.json and the generated part of docs/benchmarks.md.

Every knob is an environment variable, documented under "How to rerun" in docs/benchmarks.md.
"""

import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/tuo-target"))
RELEASE = os.path.join(TARGET, "release")
BROKER = os.path.join(RELEASE, "broker")
FLOOR = os.path.join(RELEASE, "examples", "floor")
SEED = os.path.join(RELEASE, "examples", "bench_seed")
RELAY_BENCH = os.path.join(RELEASE, "examples", "relay_bench")
AUDIT_BENCH = os.path.join(RELEASE, "examples", "audit_bench")
LUA = os.path.join(ROOT, "scripts", "bench")
CITIZENS = int(os.environ.get("BENCH_CITIZENS", "100000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "16,64,256").split(",")]
BACKENDS = os.environ.get("BENCH_BACKENDS", "postgres,sqlite").split(",")
PARTS = set(os.environ.get("BENCH_PARTS", "micro,floor,load,relay,audit").split(","))
RELAY_CHANGES = int(os.environ.get("BENCH_RELAY_CHANGES", "2000"))
RELAY_RATE = float(os.environ.get("BENCH_RELAY_RATE", "100"))
RELAY_CITIZENS = int(os.environ.get("BENCH_RELAY_CITIZENS", "1000"))
FEED_RATE = float(os.environ.get("BENCH_FEED_RATE", "50"))
AUDIT_RECORDS = int(os.environ.get("BENCH_AUDIT_RECORDS", "20000"))
AUDIT_CONCURRENCY = os.environ.get("BENCH_AUDIT_CONCURRENCY", "1,8,64")
AUDIT_VERIFY_RECORDS = int(os.environ.get("BENCH_AUDIT_VERIFY_RECORDS", "100000"))
PG_ADMIN = os.environ.get("TUO_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=10):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Process:
    """A child process whose CPU time and memory we can read from /proc."""

    def __init__(self, argv, env=None, stdout=subprocess.DEVNULL):
        self.log = tempfile.NamedTemporaryFile(prefix="bench-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=self.log)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def status_kb(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def parse_latency(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def wrk(url, connections, script=None, script_args=(), seconds=SECONDS, process=None):
    threads = 2
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script:
        argv += ["-s", script]
    argv.append(url)
    if script_args:
        argv += ["--"] + [str(a) for a in script_args]
    cpu0 = process.cpu_seconds() if process else 0.0
    out = subprocess.run(argv, capture_output=True, text=True, env=os.environ.copy()).stdout
    cpu1 = process.cpu_seconds() if process else 0.0
    result = {"connections": connections, "raw": out}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+)(s|m)", out)
    result["requests"] = int(m.group(1)) if m else 0
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        result[f"p{pct}_ms"] = parse_latency(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["errors"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    result["socket_errors"] = m.group(1).strip() if m else ""
    if process and result["requests"]:
        result["cpu_us_per_request"] = (cpu1 - cpu0) / result["requests"] * 1e6
        result["cores_used"] = (cpu1 - cpu0) / seconds
        result["peak_rss_mb"] = process.status_kb("VmHWM") / 1024
    return result


def criterion():
    log("== micro-benchmarks (criterion)")
    out = subprocess.run(
        ["cargo", "bench", "--locked", "-p", "broker", "--bench", "micro", "--", "--noplot"],
        cwd=ROOT, capture_output=True, text=True,
    ).stdout
    results = {}
    name = None
    for line in out.splitlines():
        m = re.match(r"^(\S+)\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
        if m:
            results[m.group(1)] = f"{m.group(2)} {m.group(3)}"
            continue
        m = re.match(r"^(\S+/\S+)\s*$", line)
        if m:
            name = m.group(1)
            continue
        m = re.match(r"^\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
        if m and name:
            results[name] = f"{m.group(1)} {m.group(2)}"
    return results


def floor_runs(body_bytes):
    port = free_port()
    log(f"== floor: bare actix, {body_bytes}-byte JSON body")
    proc = Process([FLOOR, str(port), str(body_bytes), "2"], stdout=subprocess.PIPE)
    proc.proc.stdout.readline()
    time.sleep(0.3)
    runs = [wrk(f"http://127.0.0.1:{port}/floor", c, process=proc) for c in CONNECTIONS]
    proc.stop()
    return runs


def create_database(backend, workdir):
    if backend == "sqlite":
        return f"sqlite://{workdir}/broker.db?mode=rwc", None
    name = f"tuo_bench_{int(time.time() * 1000)}"
    subprocess.run(["psql", PG_ADMIN, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, name


def drop_database(name):
    if name:
        subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)


def token(base, workdir):
    subprocess.run([SEED, "assertions", base, workdir, "1"], check=True)
    with open(os.path.join(workdir, "assertions.txt")) as f:
        body = f.readline().strip().encode()
    status, data = http("POST", base + "/oauth2/token", body, {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise SystemExit(f"token request failed: {status} {data[:200]!r}")
    return json.loads(data)["access_token"]


def broker_runs(backend):
    workdir = tempfile.mkdtemp(prefix=f"tuo-bench-{backend}-")
    url, pg_name = create_database(backend, workdir)
    results = {"backend": backend}
    try:
        log(f"== {backend}: seeding {CITIZENS} citizens")
        started = time.time()
        subprocess.run([SEED, "seed", url, workdir, str(CITIZENS), workdir], check=True, stdout=subprocess.DEVNULL)
        results["seed_seconds"] = time.time() - started
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(os.environ)
        env.update({
            "BROKER_DATABASE_URL": url,
            "BROKER_DATA_DIR": workdir,
            "BROKER_BIND": f"127.0.0.1:{port}",
            "BROKER_PUBLIC_URL": base,
            "BROKER_LOG_LEVEL": "warn",
            "BROKER_LOG_FORMAT": "json",
            "BROKER_DATABASE__MAX_CONNECTIONS": "32" if backend == "postgres" else "8",
        })
        spawn = time.time()
        broker = Process([BROKER, "serve"], env=env)
        ready = None
        while time.time() - spawn < 60:
            try:
                if http("GET", base + "/readyz", timeout=1)[0] == 200:
                    ready = time.time() - spawn
                    break
            except OSError:
                pass
            time.sleep(0.005)
        results["ready_seconds"] = ready
        time.sleep(1)
        results["idle_rss_mb"] = broker.status_kb("VmRSS") / 1024
        paths = os.path.join(workdir, "paths.txt")
        with open(paths) as f:
            first = f.readline().strip()
        access = token(base, workdir)
        status, body = http("GET", base + first, headers={"Authorization": "Bearer " + access})
        results["release_status"] = status
        results["release_bytes"] = len(body)
        log(f"== {backend}: token grants")
        results["token"] = []
        for c in CONNECTIONS:
            subprocess.run([SEED, "assertions", base, workdir, str(12000 * SECONDS)], check=True)
            results["token"].append(wrk(base, c, os.path.join(LUA, "token.lua"),
                                        [os.path.join(workdir, "assertions.txt"), 2], process=broker))
        log(f"== {backend}: attribute releases")
        results["release"] = []
        for c in CONNECTIONS:
            os.environ["BENCH_TOKEN"] = token(base, workdir)
            results["release"].append(wrk(base, c, os.path.join(LUA, "release.lua"), [paths], process=broker))
        if "relay" in PARTS:
            release_during_relay(results, base, workdir, url, paths, broker)
        results["peak_rss_mb"] = broker.status_kb("VmHWM") / 1024
        broker.stop()
    finally:
        drop_database(pg_name)
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def last_json(text):
    """The last line of `text` that is a JSON object."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit("no JSON result in the output")


def release_during_relay(results, base, workdir, url, paths, broker):
    """Attribute releases while relay_bench (feed mode) records changes into the broker's database
    at BENCH_FEED_RATE changes/s, each fanning out to 20 receivers, delivered by the broker's own
    worker."""
    log(f"== {results['backend']}: releases while the relay pushes ({FEED_RATE:g} changes/s to 20 receivers)")
    feed = Process([RELAY_BENCH, "feed", url, workdir, str(FEED_RATE), "200"], stdout=subprocess.PIPE)
    line = feed.proc.stdout.readline().decode().strip()
    if line != "READY":
        feed.stop()
        raise SystemExit(f"relay_bench feed did not start (log: {feed.log.name})")
    time.sleep(1)
    results["release_during_relay"] = []
    for c in CONNECTIONS:
        os.environ["BENCH_TOKEN"] = token(base, workdir)
        results["release_during_relay"].append(
            wrk(base, c, os.path.join(LUA, "release.lua"), [paths], process=broker))
    feed.proc.send_signal(signal.SIGTERM)
    out, _ = feed.proc.communicate(timeout=60)
    try:
        results["relay_feed"] = last_json(out.decode())
    except SystemExit:
        results["relay_feed"] = {"error": f"relay_bench feed exited {feed.proc.returncode} (log: {feed.log.name})"}


def bench_json(argv, backend):
    """Runs a bench example; its last JSON line with `backend` added, or an error entry."""
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
        log(out.stderr[-2000:])
        return {"backend": backend, "error": f"{os.path.basename(argv[0])} exited {out.returncode}"}
    result = last_json(out.stdout)
    result["backend"] = backend
    return result


def relay_runs(backend):
    """relay_bench run: a backlog drained by the real worker, then changes at BENCH_RELAY_RATE/s."""
    workdir = tempfile.mkdtemp(prefix=f"tuo-bench-relay-{backend}-")
    url, pg_name = create_database(backend, workdir)
    try:
        log(f"== {backend}: relay, {RELAY_CHANGES} changes x 20 receivers ({RELAY_CITIZENS} citizens)")
        return bench_json(
            [RELAY_BENCH, "run", url, workdir, str(RELAY_CHANGES), str(RELAY_RATE), str(RELAY_CITIZENS)],
            backend)
    finally:
        drop_database(pg_name)
        shutil.rmtree(workdir, ignore_errors=True)


def audit_runs(backend):
    """audit_bench: durable appends from 1, 8 and 64 tasks, then verification of the whole log (by
    audit_bench's verifier and by `broker audit verify`)."""
    workdir = tempfile.mkdtemp(prefix=f"tuo-bench-audit-{backend}-")
    url, pg_name = create_database(backend, workdir)
    try:
        log(f"== {backend}: audit appends ({AUDIT_RECORDS} per level, {AUDIT_CONCURRENCY} appenders), "
            f"verify {AUDIT_VERIFY_RECORDS}")
        result = bench_json(
            [AUDIT_BENCH, url, workdir, str(AUDIT_RECORDS), AUDIT_CONCURRENCY, str(AUDIT_VERIFY_RECORDS)],
            backend)
        if not result.get("error"):
            env = dict(os.environ)
            env.update({"BROKER_DATABASE_URL": url, "BROKER_DATA_DIR": workdir, "BROKER_LOG_LEVEL": "warn"})
            started = time.time()
            done = subprocess.run([BROKER, "audit", "verify"], env=env, capture_output=True, text=True)
            seconds = time.time() - started
            records = result["verify"]["records"]
            result["cli_verify"] = {
                "exit": done.returncode, "seconds": seconds, "records": records,
                "seconds_per_million": seconds * 1e6 / max(records, 1),
                "output": done.stdout.strip()[-300:],
            }
        return result
    finally:
        drop_database(pg_name)
        shutil.rmtree(workdir, ignore_errors=True)


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {
        "cpu": model, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(), "date": datetime.date.today().isoformat(), "commit": commit,
    }


def main():
    micro = criterion() if "micro" in PARTS else {}
    runs = [broker_runs(b) for b in BACKENDS] if "load" in PARTS else []
    body = max([r.get("release_bytes") or 0 for r in runs] + [0]) or 1200
    floor = floor_runs(body) if "floor" in PARTS else []
    relay = [relay_runs(b) for b in BACKENDS] if "relay" in PARTS else []
    audit = [audit_runs(b) for b in BACKENDS] if "audit" in PARTS else []
    report = {"machine": machine(), "micro": micro, "floor": floor, "runs": runs,
              "relay": relay, "audit": audit, "citizens": CITIZENS, "seconds": SECONDS,
              "settings": {"parts": sorted(PARTS), "backends": BACKENDS, "connections": CONNECTIONS,
                           "relay_changes": RELAY_CHANGES, "relay_rate": RELAY_RATE,
                           "relay_citizens": RELAY_CITIZENS, "feed_rate": FEED_RATE,
                           "audit_records": AUDIT_RECORDS, "audit_concurrency": AUDIT_CONCURRENCY,
                           "audit_verify_records": AUDIT_VERIFY_RECORDS}}
    out_dir = os.environ.get("BENCH_OUT", os.path.join(ROOT, "docs"))
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "benchmarks.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=1, default=str)
    subprocess.run([sys.executable, os.path.join(LUA, "report.py"), out], check=True)
    log(f"wrote {out}; {os.path.join(out_dir, 'benchmarks.md')} regenerated")


if __name__ == "__main__":
    main()
