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
PARTS = set(os.environ.get("BENCH_PARTS", "micro,floor,load,relay,mixed,instances,audit").split(","))
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


def wrk_start(url, connections, script=None, script_args=(), seconds=SECONDS, threads=2, env=None):
    """Starts wrk; `wrk_finish` waits for it and reads its figures."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script:
        argv += ["-s", script]
    argv.append(url)
    if script_args:
        argv += ["--"] + [str(a) for a in script_args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env or os.environ.copy())
    return proc, connections


def wrk_finish(started):
    proc, connections = started
    out = proc.communicate()[0]
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
    return result


def integrate_buckets(base):
    """The broker's time-to-integrate histogram, [(upper bound, cumulative count)], from /metrics."""
    try:
        status, text = http("GET", base + "/metrics", timeout=5)
    except OSError:
        return []
    prefix = 'broker_audit_time_to_integrate_seconds_bucket{le="'
    out = []
    for line in text.decode().splitlines() if status == 200 else []:
        if line.startswith(prefix):
            bound, count = line[len(prefix):].split('"} ')
            out.append((float("inf") if bound == "+Inf" else float(bound), int(count)))
    return out


def integrate_quantile(before, after, q):
    """Upper bound of the bucket holding quantile q of what was integrated between two snapshots."""
    earlier = dict(before)
    counts = [(b, n - earlier.get(b, 0)) for b, n in after]
    if not counts or counts[-1][1] == 0:
        return None
    wanted = counts[-1][1] * q
    return next(b for b, n in counts if n >= wanted)


def wrk(url, connections, script=None, script_args=(), seconds=SECONDS, process=None):
    cpu0 = process.cpu_seconds() if process else 0.0
    buckets0 = integrate_buckets(url) if process else []
    result = wrk_finish(wrk_start(url, connections, script, script_args, seconds))
    cpu1 = process.cpu_seconds() if process else 0.0
    if process:
        buckets1 = integrate_buckets(url)
        result["integrate_p99_s"] = integrate_quantile(buckets0, buckets1, 0.99)
    if process and result["requests"]:
        result["cpu_us_per_request"] = (cpu1 - cpu0) / result["requests"] * 1e6
        result["cores_used"] = (cpu1 - cpu0) / seconds
        result["peak_rss_mb"] = process.status_kb("VmHWM") / 1024
    return result


def postgres_cpu_seconds():
    """CPU seconds used so far by every PostgreSQL server process (backends, WAL writer, …)."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                text = f.read()
        except OSError:
            continue
        name = text[text.find("(") + 1:text.rfind(")")]
        if name.startswith("postgres"):
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


class WaitSampler:
    """Samples pg_stat_activity for one database every `every` seconds in a background thread
    (through one long-lived psql) and counts, per sample, the sessions that are not idle by what
    they wait on: `Lock:transactionid`, `LWLock:WALWrite`, `Client:ClientRead` (a transaction
    waiting for the broker's next statement), or `CPU` (active, no wait event)."""

    def __init__(self, dbname, every=0.1):
        import threading

        self.dbname, self.every = dbname, every
        self.samples, self.counts, self.queries = 0, {}, {}
        self.stopping = threading.Event()
        self.psql = subprocess.Popen(["psql", PG_ADMIN, "-AtqX", "-F", "\t"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        query = (
            "SELECT coalesce(wait_event_type, ''), coalesce(wait_event, ''), state, "
            "left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 70) FROM pg_stat_activity "
            f"WHERE datname = '{self.dbname}' AND pid <> pg_backend_pid() AND state IS NOT NULL "
            "AND state <> 'idle';\n\\echo __END__\n"
        )
        while not self.stopping.is_set():
            try:
                self.psql.stdin.write(query)
                self.psql.stdin.flush()
                rows = []
                for line in self.psql.stdout:
                    line = line.rstrip("\n")
                    if line == "__END__":
                        break
                    rows.append(line.split("\t"))
            except (OSError, ValueError):
                return
            self.samples += 1
            for row in rows:
                if len(row) < 4:
                    continue
                kind, event, state, text = row[:4]
                key = f"{kind}:{event}" if kind else "CPU"
                if state != "active":
                    key += f" ({state})"
                self.counts[key] = self.counts.get(key, 0) + 1
                per = self.queries.setdefault(key, {})
                per[text] = per.get(text, 0) + 1
            self.stopping.wait(self.every)

    def stop(self, top=8):
        self.stopping.set()
        self.thread.join(timeout=5)
        try:
            self.psql.stdin.close()
        except OSError:
            pass
        self.psql.kill()
        n = max(self.samples, 1)
        events = sorted(self.counts.items(), key=lambda kv: -kv[1])[:top]
        return {
            "samples": self.samples,
            "every_seconds": self.every,
            "events": [
                {"wait": k, "sessions_per_sample": c / n,
                 "query": max(self.queries[k].items(), key=lambda kv: kv[1])[0]}
                for k, c in events
            ],
        }


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
        # The bench catalogue and policies (the built-in ones and the feed's 20 receivers): the
        # broker's worker decides every delivery of the feed's changes again under its own.
        catalogue, policies = subprocess.run([RELAY_BENCH, "policy", workdir], check=True,
                                             capture_output=True, text=True).stdout.split()
        env = dict(os.environ)
        env.update({
            "BROKER_CATALOGUE__DIR": catalogue,
            "BROKER_CATALOGUE__POLICY_DIR": policies,
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
        # Before the relay's runs: their changes leave deliveries to receivers that are gone,
        # which the workers would retry during this one.
        if "instances" in PARTS and pg_name:
            instances_run(results, env, base, workdir, paths, broker, pg_name)
        if "relay" in PARTS:
            release_during_relay(results, base, workdir, url, paths, broker)
        if "mixed" in PARTS:
            mixed_run(results, base, workdir, url, paths, broker, pg_name)
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
    feed = start_feed(results, url, workdir, "relay_feed")
    if feed is None:
        return
    time.sleep(1)
    results["release_during_relay"] = []
    for c in CONNECTIONS:
        os.environ["BENCH_TOKEN"] = token(base, workdir)
        results["release_during_relay"].append(
            wrk(base, c, os.path.join(LUA, "release.lua"), [paths], process=broker))
    results["relay_feed"] = stop_feed(feed)


MIXED = {  # workload: (lua script, connections, wrk threads)
    "release": ("release.lua", 48, 2),
    "token": ("token.lua", 8, 1),
    "search": ("release.lua", 8, 1),
}


def start_feed(results, url, workdir, key):
    feed = Process([RELAY_BENCH, "feed", url, workdir, str(FEED_RATE), "200"], stdout=subprocess.PIPE)
    line = feed.proc.stdout.readline().decode().strip()
    if line != "READY":
        feed.stop()
        results[key] = {"error": f"relay_bench feed did not start (log: {feed.log.name})"}
        return None
    return feed


def stop_feed(feed):
    feed.proc.send_signal(signal.SIGTERM)
    out, _ = feed.proc.communicate(timeout=60)
    try:
        return last_json(out.decode())
    except SystemExit:
        return {"error": f"relay_bench feed exited {feed.proc.returncode} (log: {feed.log.name})"}


def mixed_run(results, base, workdir, url, paths, broker, pg_name):
    """Everything at once for BENCH_SECONDS: attribute releases (48 connections), token grants (8),
    a privacy office's audit searches (8, `searches.txt`: a citizen's records, now and then the
    department's releases) and the relay feed (BENCH_FEED_RATE changes/s to 20 receivers), with
    pg_stat_activity sampled every 100 ms on PostgreSQL."""
    backend = results["backend"]
    log(f"== {backend}: mixed (releases, token grants, audit searches, relay feed at {FEED_RATE:g}/s)")
    feed = start_feed(results, url, workdir, "mixed")
    if feed is None:
        return
    env = dict(os.environ)
    env["BENCH_TOKEN"] = token(base, workdir)  # before the assertions: it rewrites their file
    subprocess.run([SEED, "assertions", base, workdir, str(6000 * SECONDS)], check=True)
    sampler = WaitSampler(pg_name) if pg_name else None
    cpu0, pg0 = broker.cpu_seconds(), postgres_cpu_seconds()
    buckets0 = integrate_buckets(base)
    started = {}
    for name, (script, connections, threads) in MIXED.items():
        args = {"release": [paths], "search": [os.path.join(workdir, "searches.txt")],
                "token": [os.path.join(workdir, "assertions.txt"), threads]}[name]
        started[name] = wrk_start(base, connections, os.path.join(LUA, script), args, threads=threads, env=env)
    workloads = {name: wrk_finish(run) for name, run in started.items()}
    cpu1, pg1 = broker.cpu_seconds(), postgres_cpu_seconds()
    buckets1 = integrate_buckets(base)
    waits = sampler.stop() if sampler else None
    requests = sum(w["requests"] for w in workloads.values())
    results["mixed"] = {
        "workloads": workloads,
        "feed": stop_feed(feed),
        "broker_cores": (cpu1 - cpu0) / SECONDS,
        "broker_cpu_us_per_request": (cpu1 - cpu0) / max(requests, 1) * 1e6,
        "postgres_cores": (pg1 - pg0) / SECONDS if pg_name else None,
        "integrate_p50_s": integrate_quantile(buckets0, buckets1, 0.50),
        "integrate_p99_s": integrate_quantile(buckets0, buckets1, 0.99),
        "waits": waits,
    }


def instances_run(results, env, base, workdir, paths, broker, pg_name):
    """Releases at 64 connections (two wrk of 32) against one instance, then against two instances
    of the broker on the same PostgreSQL database (one wrk of 32 each, summed), with the CPU of the
    brokers and of PostgreSQL and the wait events of both runs."""
    log(f"== {results['backend']}: one instance, then two, on one database")
    port = free_port()
    second_env = dict(env)
    # Both answer under one public URL, as behind a load balancer (tokens name it as issuer).
    second_env["BROKER_BIND"] = f"127.0.0.1:{port}"
    second = None
    out = {}
    try:
        for count in (1, 2):
            if count == 2:
                second = Process([BROKER, "serve"], env=second_env)
                deadline = time.time() + 60
                while time.time() < deadline:
                    try:
                        if http("GET", f"http://127.0.0.1:{port}/readyz", timeout=1)[0] == 200:
                            break
                    except OSError:
                        pass
                    time.sleep(0.05)
                time.sleep(1)
            targets = [base, base] if count == 1 else [base, f"http://127.0.0.1:{port}"]
            brokers = [broker] if count == 1 else [broker, second]
            wrk_env = dict(os.environ)
            wrk_env["BENCH_TOKEN"] = token(base, workdir)
            sampler = WaitSampler(pg_name)
            cpu0 = [b.cpu_seconds() for b in brokers]
            pg0 = postgres_cpu_seconds()
            runs = [wrk_start(t, 32, os.path.join(LUA, "release.lua"), [paths], threads=1, env=wrk_env)
                    for t in targets]
            parts = [wrk_finish(r) for r in runs]
            cpu1 = [b.cpu_seconds() for b in brokers]
            pg1 = postgres_cpu_seconds()
            requests = sum(p["requests"] for p in parts)
            out[str(count)] = {
                "wrk": parts,
                "rps": sum(p["rps"] for p in parts),
                "p99_ms": max((p["p99_ms"] or 0) for p in parts),
                "errors": sum(p["errors"] for p in parts),
                "broker_cores": sum(b - a for a, b in zip(cpu0, cpu1)) / SECONDS,
                "broker_cpu_us_per_request": sum(b - a for a, b in zip(cpu0, cpu1)) / max(requests, 1) * 1e6,
                "postgres_cores": (pg1 - pg0) / SECONDS,
                "waits": sampler.stop(),
            }
    finally:
        if second:
            second.stop()
    one = out.get("1", {}).get("rps") or 0
    out["ratio"] = (out.get("2", {}).get("rps") or 0) / one if one else None
    results["instances"] = out


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
