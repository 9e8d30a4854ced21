#!/usr/bin/env python3
"""Load runs for docs/benchmarks.md (started by scripts/benchmark after a release build).

Measures, in one run on this machine: the criterion micro-benchmarks; the floor (a bare actix
endpoint returning a body of the release response's size, and one ES256 signature); the release
broker on PostgreSQL and on SQLite with N seeded citizens: time to ready, idle RSS, token grants and
attribute releases at 16/64/256 connections (throughput, p50/p99, CPU per request, peak RSS), and
releases while the relay pushes changes when the relay exists. Writes docs/benchmarks.md.
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
LUA = os.path.join(ROOT, "scripts", "bench")
CITIZENS = int(os.environ.get("BENCH_CITIZENS", "100000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = [16, 64, 256]
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
    name = f"tuo_bench_{int(time.time())}"
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
        results["peak_rss_mb"] = broker.status_kb("VmHWM") / 1024
        broker.stop()
    finally:
        drop_database(pg_name)
        shutil.rmtree(workdir, ignore_errors=True)
    return results


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
    micro = criterion()
    runs = [broker_runs("postgres"), broker_runs("sqlite")]
    body = max((r.get("release_bytes") or 0) for r in runs) or 1200
    floor = floor_runs(body)
    report = {"machine": machine(), "micro": micro, "floor": floor, "runs": runs,
              "citizens": CITIZENS, "seconds": SECONDS}
    out = os.path.join(ROOT, "docs", "benchmarks.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=1, default=str)
    subprocess.run([sys.executable, os.path.join(LUA, "report.py"), out], check=True)
    log("wrote docs/benchmarks.json; docs/benchmarks.md regenerated")


if __name__ == "__main__":
    main()
