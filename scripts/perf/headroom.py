#!/usr/bin/env python3
"""What the gateway-throughput budget leaves for per-request work, measured.

The budget compares eventzr-local with a bare axum hello world (perf/'s hello-axum) by
throughput, so it allows a JWT-verified GET only so much CPU per request more than an
empty handler. This finds how much, on this machine, with each side on a core of its
own (the server on one CPU with one tokio worker, `wrk -t1` on another: the first two
this process may use), so the server's CPU is what limits the rate:

- hello-axum with `--busy-ns N` (N ns of CPU spent in the handler) for each N: the
  throughput a given amount of per-request work leaves, and the N at which it falls to
  the budget's share (interpolated between the two nearest N);
- hello-axum with `--access-log`: an empty handler plus only the JSON access-log line
  ARCHITECTURE.md requires of every request;
- eventzr-local's `GET /auth/v1/health` and `GET /auth/v1/profile` (a token from
  `POST /auth/v1/login` on the same process: its memory store holds the session).

Rows run interleaved, round after round; each share is against the same round's
hello-axum. Server CPU per request is the process's utime + stime (all threads, the
log writer's included) over the wrk run, divided by the requests wrk counted.

Usage: python3 scripts/perf/headroom.py [--rounds N] [--duration S] [--busy N,N,...]
                                        [--budget F] [--out FILE] [--json FILE]
Needs target/release/hello-axum and target/release/eventzr-local
(`cargo build --release -p eventzr-local -p perf --bin eventzr-local --bin hello-axum`),
wrk on PATH and at least 2 CPUs. scripts/bench.sh runs it and pastes --out into
BENCHMARKS.md.
"""

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / "target" / "release"
LOGS = ROOT / "target" / "bench"
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
# The server's CPU and the load generator's: the first two this process may use.
CPUS = sorted(os.sched_getaffinity(0))[:2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu):
    return lambda: os.sched_setaffinity(0, {cpu})


def wait_http(url, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("headroom: %s exited with %s before answering" % (proc.args[0], proc.returncode))
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    sys.exit("headroom: %s did not answer %s" % (proc.args[0], url))


def login(base):
    body = json.dumps({"email": "partner@eventzr.com", "password": "Password123!"}).encode()
    req = urllib.request.Request(base + "/auth/v1/login", body, {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["data"]["accessToken"]


def keep_head(path, lines=20):
    """A run's access log is a line per request (hundreds of MB): keep its start."""
    with open(path, "rb") as f:
        head = [line for _, line in zip(range(lines), f)]
    path.write_bytes(b"".join(head))


def cpu_ticks(pid):
    # Fields after the parenthesised command name: utime and stime are 14 and 15 overall.
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(row, duration):
    """Starts the row's server pinned to the first CPU, loads it from the second, stops it."""
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    argv = [str(RELEASE / row["binary"])] + [a.replace("{port}", str(port)) for a in row["args"]]
    # RUST_LOG fixed: eventzr-local honours it, hello-axum --access-log does not.
    env = dict(os.environ, TOKIO_WORKER_THREADS="1", RUST_LOG="info")
    log_path = LOGS / ("headroom-%s.log" % row["key"])
    proc = None
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    preexec_fn=pinned(CPUS[0]))
        # hello-axum answers any path; eventzr-local's health route needs no token.
        wait_http(base + ("/auth/v1/health" if row.get("login") else row["path"]), proc)
        headers = {"Authorization": "Bearer " + login(base)} if row.get("login") else {}
        url = base + row["path"]
        # Warm up: the first token check, the first connection.
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5):
            pass
        wrk_headers = [arg for k, v in headers.items() for arg in ("-H", "%s: %s" % (k, v))]
        before = cpu_ticks(proc.pid)
        out = subprocess.run(["wrk", "-t1", "-c16", "-d%ds" % duration] + wrk_headers + [url],
                             capture_output=True, text=True, check=True, timeout=duration + 30,
                             preexec_fn=pinned(CPUS[1])).stdout
        after = cpu_ticks(proc.pid)
        if proc.poll() is not None:
            sys.exit("headroom: %s exited during the run (%s)" % (row["label"], proc.returncode))
    finally:
        if proc is not None:
            stop(proc)
        keep_head(log_path)
    requests = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if not requests or not rps or int(requests.group(1)) == 0 or float(rps.group(1)) == 0:
        sys.exit("headroom: %s: no requests answered\n%s" % (row["label"], out))
    for problem in (r"Non-2xx or 3xx responses:\s*(\d+)", r"Socket errors:\s*(.*)"):
        found = re.search(problem, out)
        if found:
            sys.exit("headroom: %s: %s" % (row["label"], found.group(0)))
    return {
        "rps": float(rps.group(1)),
        "cpu_us": (after - before) * TICK_US / int(requests.group(1)),
    }


def crossing(points, share):
    """Where hello-axum's share falls to `share`: (busy ns, server CPU over hello-axum in
    µs), between the two nearest measured points; None when outside them. Throughput
    goes as 1/(a + b·n), so 1/share is what is linear in n."""
    for (n0, s0, e0), (n1, s1, e1) in zip(points, points[1:]):
        if s0 >= share >= s1 and s0 != s1:
            t = (1 / share - 1 / s0) / (1 / s1 - 1 / s0)
            return n0 + t * (n1 - n0), e0 + t * (e1 - e0)
    return None


def spread(values, fmt):
    return "%s (%s to %s)" % (fmt % statistics.median(values), fmt % min(values), fmt % max(values))


def positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError("must be positive")
        return value
    return parse


def fraction(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError("a fraction between 0 and 1 (0.7 for 70 %)")
    return value


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=positive(int), default=3)
    p.add_argument("--duration", type=positive(int), default=5)
    p.add_argument("--busy", default="500,1000,2000,4000,8000")
    p.add_argument("--budget", type=fraction, default=0.70)
    p.add_argument("--out", type=Path)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    if len(CPUS) < 2:
        sys.exit("headroom: needs two CPUs (the server and wrk each on its own)")
    try:
        busy = sorted({int(n) for n in a.busy.split(",") if n.strip()})
    except ValueError:
        sys.exit("headroom: --busy takes nanoseconds, comma-separated (500,1000,2000)")
    if not busy or busy[0] <= 0:
        sys.exit("headroom: --busy takes positive nanoseconds")
    # A TERM (bench.sh stopped) must still stop the server under test: exit runs `finally`.
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))
    LOGS.mkdir(parents=True, exist_ok=True)

    rows = [{"key": "hello", "label": "hello-axum", "binary": "hello-axum", "args": ["{port}"],
             "path": "/", "busy": 0}]
    rows += [{"key": "busy%d" % n, "label": "hello-axum --busy-ns %d" % n, "binary": "hello-axum",
              "args": ["{port}", "--busy-ns", str(n)], "path": "/", "busy": n} for n in busy]
    rows += [
        {"key": "logged", "label": "hello-axum --access-log", "binary": "hello-axum",
         "args": ["{port}", "--access-log"], "path": "/"},
        {"key": "health", "label": "eventzr-local `GET /auth/v1/health`", "binary": "eventzr-local",
         "args": ["--port", "{port}"], "path": "/auth/v1/health"},
        {"key": "profile", "label": "eventzr-local `GET /auth/v1/profile` (JWT verified)",
         "binary": "eventzr-local", "args": ["--port", "{port}"], "path": "/auth/v1/profile",
         "login": True},
    ]
    for r in rows:
        if not (RELEASE / r["binary"]).exists():
            sys.exit("headroom: target/release/%s missing (see --help)" % r["binary"])

    results = {r["key"]: [] for r in rows}
    for i in range(a.rounds):
        # Each round starts at another row, spread over the rounds, so that drift during
        # a round does not always favour the same rows.
        start = i * len(rows) // a.rounds
        for r in rows[start:] + rows[:start]:
            results[r["key"]].append(run(r, a.duration))
        print("headroom: round %d of %d done" % (i + 1, a.rounds), file=sys.stderr)

    share = {k: [m["rps"] / h["rps"] for m, h in zip(v, results["hello"])] for k, v in results.items()}
    extra = {k: [m["cpu_us"] - h["cpu_us"] for m, h in zip(v, results["hello"])] for k, v in results.items()}
    by_round = [crossing([(0, 1.0, 0.0)] + [(n, share["busy%d" % n][i], extra["busy%d" % n][i])
                                            for n in busy], a.budget)
                for i in range(a.rounds)]
    found = [c for c in by_round if c is not None]

    md = [
        "| server, request | req/s | share of hello-axum | server CPU per request | more than hello-axum |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        k = r["key"]
        md.append("| %s | %s | %s | %s | %s |" % (
            r["label"], spread([m["rps"] for m in results[k]], "%.0f"),
            "-" if k == "hello" else spread([s * 100 for s in share[k]], "%.0f %%"),
            spread([m["cpu_us"] for m in results[k]], "%.1f µs"),
            "-" if k == "hello" else spread(extra[k], "%+.1f µs")))
    headroom_ns = statistics.median(c[0] for c in found) if found else None
    headroom_cpu = statistics.median(c[1] for c in found) if found else None
    md += [
        "",
        "Median (min to max) of %d rounds of `wrk -t1 -c16 -d%ds` on CPU %d against the server "
        "on CPU %d (`TOKIO_WORKER_THREADS=1`), the rows interleaved (each round starting at "
        "another row); shares are against the same round's hello-axum. "
        "`python3 scripts/perf/headroom.py --rounds %d --duration %d --busy %s`."
        % (a.rounds, a.duration, CPUS[1], CPUS[0], a.rounds, a.duration, ",".join(map(str, busy))),
        "",
    ]
    if found:
        md.append(
            "Headroom at the %.0f %% budget: bare axum falls to %.0f %% of hello-axum when its "
            "handler spends **%.1f µs** of CPU a request (%s by round), which costs the server "
            "**%+.1f µs** a request over hello-axum: a row whose last column is above that is "
            "below the budget.%s" % (
                a.budget * 100, a.budget * 100, headroom_ns / 1000,
                ", ".join("%.1f µs" % (c[0] / 1000) if c else "> %.1f µs" % (busy[-1] / 1000)
                          for c in by_round),
                headroom_cpu,
                "" if len(found) == len(by_round) else
                " (the median of the %d rounds that crossed it within the --busy range)"
                % len(found)))
    else:
        md.append("Headroom at the %.0f %% budget: not within the --busy range measured "
                  "(up to %d ns)." % (a.budget * 100, busy[-1]))
    text = "\n".join(md) + "\n"
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({
            "budget": a.budget, "headroom_ns": headroom_ns, "headroom_server_cpu_us": headroom_cpu,
            "crossings": by_round,
            "share": {k: statistics.median(v) for k, v in share.items()},
            "cpu_us": {k: statistics.median(m["cpu_us"] for m in v) for k, v in results.items()},
            "rounds": results,
        }, indent=2))
    print(text, end="")


if __name__ == "__main__":
    main()
