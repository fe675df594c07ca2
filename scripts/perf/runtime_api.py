#!/usr/bin/env python3
"""A small AWS Lambda Runtime API on loopback, for running real bootstrap binaries.

Standard library only. It implements what a custom runtime (lambda_runtime 1.x) calls:

  GET  /2018-06-01/runtime/invocation/next             long-poll; the next event, with
                                                       Lambda-Runtime-Aws-Request-Id,
                                                       -Deadline-Ms, -Invoked-Function-Arn,
                                                       -Trace-Id
  POST /2018-06-01/runtime/invocation/{id}/response    the function's answer
  POST /2018-06-01/runtime/invocation/{id}/error       a failed invocation
  POST /2018-06-01/runtime/init/error                  a failed init

Events are handed out one at a time, in the order given, the way one Lambda execution
environment serves them. Commands:

  run [--env K=V]... [--timeout S] [--expect [--meta-service NAME]] [--log FILE]
      [--json FILE] EVENT... -- BOOTSTRAP [ARG...]
      Spawn BOOTSTRAP with AWS_LAMBDA_RUNTIME_API pointing here and the environment
      Lambda would give it (its AWS_LAMBDA_* variables, the --env ones, and from this
      shell only PATH, AWS credentials/region and AWS_ENDPOINT_URL*), serve it EVENTs, then read its peak RSS (VmHWM) and stop
      it. Prints one line per event; --expect compares each answer with the event's
      `<name>.expect.json` sidecar ({"status": N, "code"?: "ERR_..."}) and exits 1 on
      any mismatch. Also reports the cold start: spawn -> first answer received.

  coldstart --runs N [--env K=V]... EVENT -- BOOTSTRAP [ARG...]
      N fresh processes, each timed from spawn to the first answer; prints the samples
      and their median as JSON, with each process's CPU time (all threads) and minor
      page faults at that moment.

  serve --port P EVENT...
      Only the API, for a bootstrap started elsewhere with
      AWS_LAMBDA_RUNTIME_API=127.0.0.1:P; exits once every event is answered.

Not implemented (not needed by lambda_http's buffered responses): response streaming,
extensions and telemetry APIs, SnapStart restore hooks.
"""

import argparse
import base64
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PREFIX = "/2018-06-01/runtime"
REGION = "us-east-1"
ACCOUNT = "123456789012"


class Invocation:
    def __init__(self, index, name, payload):
        self.index = index
        self.name = name
        self.payload = payload
        self.request_id = str(uuid.uuid4())
        self.sent_at = None
        self.done_at = None
        self.response = None  # parsed JSON of /response
        self.error = None  # parsed JSON of /error


class RuntimeApi:
    """The state behind the HTTP handlers: a queue of invocations, served in order."""

    def __init__(self, events, function_name, timeout_s):
        self.invocations = [Invocation(i, n, p) for i, (n, p) in enumerate(events)]
        self.function_name = function_name
        self.timeout_ms = int(timeout_s * 1000)
        self.next_index = 0
        self.in_flight = None
        self.init_error = None
        self.first_answer_at = None
        self.closing = False
        self.cond = threading.Condition()
        self.server = None

    # -- called by the handler -------------------------------------------------------
    def next_invocation(self):
        """Blocks until an event may be sent: the previous one answered, one is left."""
        with self.cond:
            while not self.closing and (
                self.in_flight is not None or self.next_index >= len(self.invocations)
            ):
                self.cond.wait(0.5)
            if self.closing:
                return None
            inv = self.invocations[self.next_index]
            self.next_index += 1
            self.in_flight = inv
            inv.sent_at = time.perf_counter()
            return inv

    def complete(self, request_id, kind, body):
        now = time.perf_counter()
        with self.cond:
            inv = self.in_flight
            if inv is None or inv.request_id != request_id:
                return False
            inv.done_at = now
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = {"unparsable": body.decode("utf-8", "replace")}
            if kind == "response":
                inv.response = parsed
            else:
                inv.error = parsed or {}
            if self.first_answer_at is None:
                self.first_answer_at = now
            self.in_flight = None
            self.cond.notify_all()
            return True

    def fail_init(self, body):
        with self.cond:
            try:
                self.init_error = json.loads(body) if body else {}
            except ValueError:
                self.init_error = {"unparsable": body.decode("utf-8", "replace")}
            self.cond.notify_all()

    # -- called by the runner --------------------------------------------------------
    def all_answered(self):
        return all(i.done_at is not None for i in self.invocations)

    def wait(self, until, child=None):
        """Waits for every answer; False on init error, child exit or deadline."""
        with self.cond:
            while not self.all_answered():
                if self.init_error is not None:
                    return False
                if child is not None and child.poll() is not None:
                    return False
                if time.monotonic() > until:
                    return False
                self.cond.wait(0.05)
            return True

    def wait_first(self, until, child):
        with self.cond:
            while self.first_answer_at is None:
                if self.init_error is not None or child.poll() is not None:
                    return False
                if time.monotonic() > until:
                    return False
                self.cond.wait(0.002)
            return True

    def close(self):
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def make_handler(api):
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive: the runtime reuses one connection for next/response. No Nagle:
        # headers and body go out as two writes, and with Nagle the second waits for
        # the client's delayed ACK (~40 ms per invocation on loopback).
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def _body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _reply(self, status, payload=b'{"status":"OK"}', headers=()):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            if self.path != PREFIX + "/invocation/next":
                return self._reply(404, b'{"errorType":"NotFound"}')
            inv = api.next_invocation()
            if inv is None:
                self.close_connection = True
                return self._reply(503, b'{"errorType":"ShuttingDown"}')
            deadline = int(time.time() * 1000) + api.timeout_ms
            trace = "Root=1-%08x-%s;Parent=%s;Sampled=0" % (
                int(time.time()),
                secrets.token_hex(12),
                secrets.token_hex(8),
            )
            arn = "arn:aws:lambda:%s:%s:function:%s" % (REGION, ACCOUNT, api.function_name)
            self._reply(
                200,
                inv.payload,
                [
                    ("Lambda-Runtime-Aws-Request-Id", inv.request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                    ("Lambda-Runtime-Invoked-Function-Arn", arn),
                    ("Lambda-Runtime-Trace-Id", trace),
                ],
            )

        def do_POST(self):
            body = self._body()
            path = self.path
            if path == PREFIX + "/init/error":
                api.fail_init(body)
                return self._reply(202)
            if path.startswith(PREFIX + "/invocation/"):
                rest = path[len(PREFIX + "/invocation/"):]
                request_id, _, kind = rest.partition("/")
                if kind in ("response", "error"):
                    if api.complete(request_id, kind, body):
                        return self._reply(202)
                    return self._reply(400, b'{"errorType":"InvalidRequestID"}')
            self._reply(404, b'{"errorType":"NotFound"}')

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A bootstrap stopped mid-poll resets its connection: expected, not news.
        if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            super().handle_error(request, client_address)


def start_api(events, function_name, timeout_s, port=0):
    api = RuntimeApi(events, function_name, timeout_s)
    server = QuietServer(("127.0.0.1", port), make_handler(api))
    api.server = server
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return api, server.server_address[1]


# -- the bootstrap process ---------------------------------------------------------------

# Taken from the calling environment: the emulator's endpoint and credentials (in Lambda
# the credentials and region are set the same way, as variables) and PATH.
PASS_THROUGH = ("PATH", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED")


def lambda_env(port, function_name, extra, inherit=False):
    """The environment Lambda gives a provided.al2023 function (lambda_runtime reads the
    AWS_LAMBDA_* ones) plus `extra` (the function's own variables). Nothing else of the
    calling shell leaks in unless `inherit`: e.g. a workstation's SSL_CERT_DIR makes the
    SDK's TLS setup read every file of that directory at init, which no function in AWS
    does, and would be measured as our cold start."""
    if inherit:
        env = dict(os.environ)
    else:
        env = {k: v for k, v in os.environ.items()
               if k in PASS_THROUGH or k.startswith("AWS_ENDPOINT_URL")}
    env.update(
        {
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % port,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + function_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d") + "/[$LATEST]local",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
            "_HANDLER": "bootstrap",
        }
    )
    env.update(extra)
    return env


def vmhwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_and_faults(pid):
    """CPU time (ms, every thread, from the scheduler's nanosecond counters) and minor
    page faults of a live process: far steadier than wall time on a shared machine."""
    try:
        cpu_ns = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                cpu_ns += int(f.read().split()[0])
        with open("/proc/%d/stat" % pid) as f:
            minflt = int(f.read().rsplit(")", 1)[1].split()[7])
        return cpu_ns / 1e6, minflt
    except (OSError, ValueError, IndexError):
        return None, None


def stop(child):
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(3)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def spawn(cmd, env, log):
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    finally:
        if log:
            out.close()


def parse_env(pairs):
    env = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            sys.exit("runtime_api: --env wants KEY=VALUE, got %r" % pair)
        env[key] = value
    return env


def read_events(paths):
    return [(p, Path(p).read_bytes()) for p in paths]


def split_command(argv):
    if "--" not in argv:
        sys.exit("runtime_api: give the bootstrap after `--`")
    i = argv.index("--")
    if i == len(argv) - 1:
        sys.exit("runtime_api: no bootstrap after `--`")
    return argv[:i], argv[i + 1:]


# -- answers and expectations -------------------------------------------------------------

def answer_of(inv):
    """(status, error code, meta.service, note) of an invocation's API Gateway answer."""
    if inv.error is not None:
        return None, None, None, "invocation error: %s" % json.dumps(inv.error)[:300]
    if inv.response is None:
        return None, None, None, "no answer"
    resp = inv.response
    status = resp.get("statusCode")
    body = resp.get("body") or ""
    if resp.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    code = service = None
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        err = parsed.get("error")
        if isinstance(err, dict):
            code = err.get("code")
        meta = parsed.get("meta")
        if isinstance(meta, dict):
            service = meta.get("service")
    return status, code, service, None


def expectation(event_path):
    sidecar = Path(event_path[: -len(".json")] + ".expect.json")
    want = json.loads(sidecar.read_text())
    return want["status"], want.get("code")


def cmd_run(argv):
    opts, cmd = split_command(argv)
    p = argparse.ArgumentParser(prog="runtime_api.py run")
    p.add_argument("--env", action="append", help="KEY=VALUE for the bootstrap")
    p.add_argument("--name", help="function name (default: the bootstrap's directory)")
    p.add_argument("--timeout", type=float, default=10.0, help="per event, seconds")
    p.add_argument("--init-timeout", type=float, default=10.0)
    p.add_argument("--expect", action="store_true", help="check <event>.expect.json")
    p.add_argument("--meta-service", help="with --expect: meta.service must be this")
    p.add_argument("--log", help="append the bootstrap's stdout/stderr here")
    p.add_argument("--inherit-env", action="store_true",
                   help="give the bootstrap this shell's whole environment too")
    p.add_argument("--json", help="write the full results here")
    p.add_argument("--label", default="", help="prefix of each printed line")
    p.add_argument("events", nargs="+")
    a = p.parse_args(opts)

    name = a.name or Path(cmd[0]).resolve().parent.name
    api, port = start_api(read_events(a.events), name, a.timeout)
    env = lambda_env(port, name, parse_env(a.env), a.inherit_env)
    t0 = time.perf_counter()
    child = spawn(cmd, env, a.log)
    until = time.monotonic() + a.init_timeout + a.timeout * len(a.events)
    try:
        finished = api.wait(until, child)
        hwm = vmhwm_kb(child.pid)
    finally:
        stop(child)
        api.close()

    cold_ms = (api.first_answer_at - t0) * 1000 if api.first_answer_at else None
    failures = 0
    results = []
    for inv in api.invocations:
        status, code, service, note = answer_of(inv)
        ms = (inv.done_at - inv.sent_at) * 1000 if inv.done_at and inv.sent_at else None
        row = {"event": inv.name, "status": status, "code": code, "ms": ms}
        verdict = ""
        if a.expect:
            want_status, want_code = expectation(inv.name)
            problems = []
            if note:
                problems.append(note)
            elif status != want_status:
                problems.append("status %s, expected %s (code %s)" % (status, want_status, code))
            elif want_code and code != want_code:
                problems.append("code %s, expected %s" % (code, want_code))
            elif a.meta_service and service is not None and service != a.meta_service:
                problems.append("meta.service %s, expected %s" % (service, a.meta_service))
            row["ok"] = not problems
            failures += bool(problems)
            verdict = ("PASS " if not problems else "FAIL ")
            detail = "; ".join(problems) if problems else "%s%s" % (status, " " + code if code else "")
        else:
            detail = note or "%s%s" % (status, " " + code if code else "")
        timing = "%.1f ms" % ms if ms is not None else "-"
        print("%s%s%s  %s  (%s)" % (verdict, a.label, Path(inv.name).name, detail, timing), flush=True)
        results.append(row)

    if api.init_error is not None:
        print("%sinit error: %s" % (a.label, json.dumps(api.init_error)[:500]), flush=True)
    if not finished:
        print("%sbootstrap stopped early or timed out (exit %s); %d of %d answered"
              % (a.label, child.returncode, sum(i.done_at is not None for i in api.invocations),
                 len(api.invocations)), flush=True)
    summary = {
        "function": name,
        "cold_start_ms": cold_ms,
        "vmhwm_kb": hwm,
        "init_error": api.init_error,
        "completed": finished,
        "invocations": results,
    }
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=2) + "\n")
    print("%scold start %s, peak RSS %s" % (
        a.label,
        "%.1f ms" % cold_ms if cold_ms is not None else "-",
        "%d KiB" % hwm if hwm else "-"), flush=True)
    if not finished or api.init_error is not None:
        return 2
    return 1 if failures else 0


def cmd_coldstart(argv):
    opts, cmd = split_command(argv)
    p = argparse.ArgumentParser(prog="runtime_api.py coldstart")
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--env", action="append")
    p.add_argument("--name")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--log")
    p.add_argument("--inherit-env", action="store_true")
    p.add_argument("event")
    a = p.parse_args(opts)

    name = a.name or Path(cmd[0]).resolve().parent.name
    events = read_events([a.event])
    extra = parse_env(a.env)
    samples, statuses, cpu, faults = [], [], [], []
    for _ in range(a.runs):
        api, port = start_api(events, name, a.timeout)
        env = lambda_env(port, name, extra, a.inherit_env)
        t0 = time.perf_counter()
        child = spawn(cmd, env, a.log)
        try:
            ok = api.wait_first(time.monotonic() + a.timeout, child)
            t1 = api.first_answer_at
            cpu_ms, minflt = cpu_and_faults(child.pid)
        finally:
            stop(child)
            api.close()
        if not ok or t1 is None:
            print(json.dumps({"error": "no answer", "exit": child.returncode,
                              "init_error": api.init_error}))
            return 2
        samples.append((t1 - t0) * 1000)
        statuses.append(answer_of(api.invocations[0])[0])
        if cpu_ms is not None:
            cpu.append(cpu_ms)
            faults.append(minflt)
    print(json.dumps({
        "function": name,
        "runs": a.runs,
        "median_ms": statistics.median(samples),
        "min_ms": min(samples),
        "max_ms": max(samples),
        "statuses": sorted(set(statuses)),
        "samples_ms": [round(s, 2) for s in samples],
        # The process's CPU time and minor faults when its first answer arrived.
        "cpu_median_ms": statistics.median(cpu) if cpu else None,
        "cpu_samples_ms": [round(c, 3) for c in cpu],
        "minflt_median": statistics.median(faults) if faults else None,
    }))
    return 0


def cmd_serve(argv):
    p = argparse.ArgumentParser(prog="runtime_api.py serve")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--name", default="local-function")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("events", nargs="+")
    a = p.parse_args(argv)
    api, port = start_api(read_events(a.events), a.name, a.timeout, a.port)
    print("runtime API on 127.0.0.1:%d, %d events" % (port, len(a.events)), file=sys.stderr)
    try:
        while not api.all_answered() and api.init_error is None:
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        api.close()
    for inv in api.invocations:
        print(json.dumps({"event": inv.name, "response": inv.response, "error": inv.error}))
    if api.init_error is not None:
        print(json.dumps({"init_error": api.init_error}))
        return 2
    return 0


def main():
    # A TERM (the calling script's cleanup) unwinds like an exception, so each command's
    # `finally` stops the bootstrap it started instead of leaving it behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    commands = {"run": cmd_run, "coldstart": cmd_coldstart, "serve": cmd_serve}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
