#!/usr/bin/env python3
"""bench/chaos.py: the driver of bench/chaos.sh (issue 19, chaos run).

Runs `vigil run` with four collectors (file tail, HTTP /ingest, TCP syslog, TLS syslog) while
four senders stream auth.log into them as real shippers do, and kills the daemon with SIGKILL
KILLS times at random moments (seeded), restarting it each time:
  - file: lines are appended to a log file; the daemon resumes from its committed checkpoint.
  - http: POST /ingest of 50 lines; retried until 200 (200 is sent only once they are committed).
  - tcp, tls: one connection, newline framing; after an error, reconnect and go on with the next
    line (no resend: plain syslog has no acknowledgement).
Each source rewrites the host name of every line (chaos-file, chaos-http, ...), so its alerts
are told apart. At the end, per source, the stored detection alerts (rule id + raw event) are
compared as a multiset with `vigil scan` over exactly the lines that source sent:
  - file: must be equal;
  - http: no alert may be missing; a request whose connection died after its body was sent may
    have been committed and then resent (at-least-once): its alerts may be there twice, and are
    counted; any other extra alert fails;
  - tcp, tls: lost and doubled alerts are counted and reported, not failed on.
Correlation alerts and suppression summaries are left out of the comparison: the four sources
interleave in an order no run repeats (the correlation windows see them in arrival order), and
tests/e2e/correlation_test.cpp CorrelationExactAfterTwentyKill9s checks those after kill -9.
Prints the figures and PASS or FAIL; exits 1 on FAIL.
"""
import argparse
import collections
import http.client
import json
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(predicate, timeout, pause=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(pause)
    return predicate()


class Daemon:
    def __init__(self, vigil, work):
        self.vigil, self.work, self.proc = vigil, work, None
        self.log_path = os.path.join(work, "daemon.log")

    def start(self):
        offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.vigil, "run", "--config", "vigil.yml"], cwd=self.work,
                                     stdout=log, stderr=log)
        log.close()

        def ready():
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return b"vigil: ready" in f.read() or self.proc.poll() is not None
        if not wait_until(ready, 120) or self.proc.poll() is not None:
            sys.exit("chaos: the daemon did not start; see " + self.log_path)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=300)


class Sender(threading.Thread):
    """Streams `lines` at about `rate` lines/s; subclasses deliver one chunk."""

    def __init__(self, name, lines, rate, chunk):
        super().__init__(daemon=True)
        self.name, self.lines, self.rate, self.chunk = name, lines, rate, chunk
        self.sent = []         # lines handed over (what `vigil scan` is run on)
        self.errors = 0        # failed attempts (connection refused or reset, 503)
        self.done = False

    def run(self):
        started = time.monotonic()
        for i in range(0, len(self.lines), self.chunk):
            part = self.lines[i:i + self.chunk]
            self.deliver(part)
            ahead = started + (i + len(part)) / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)  # pacing, so that the stream spans the kills
        self.done = True


class FileSender(Sender):
    def __init__(self, path, *args):
        super().__init__(*args)
        self.path = path

    def deliver(self, part):
        with open(self.path, "a") as f:
            f.write("".join(line + "\n" for line in part))
        self.sent.extend(part)


class HttpSender(Sender):
    def __init__(self, port, *args):
        super().__init__(*args)
        self.port = port
        self.ambiguous = []  # chunks resent after an attempt that may have been committed

    def deliver(self, part):
        body = "".join(line + "\n" for line in part).encode()
        maybe_committed = False
        while True:
            sent_body = False
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                c.request("POST", "/ingest", body, {"Content-Type": "text/plain"})
                sent_body = True
                status = c.getresponse().status
                c.close()
                if status == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            self.errors += 1
            maybe_committed = maybe_committed or sent_body
            time.sleep(0.05)  # a shipper's retry backoff
        self.sent.extend(part)
        if maybe_committed:
            self.ambiguous.append(part)


class SyslogSender(Sender):
    def __init__(self, port, tls, *args):
        super().__init__(*args)
        self.port, self.tls, self.sock = port, tls, None
        self.reconnects = 0
        if tls:
            self.ctx = ssl.create_default_context()
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE

    def connect(self):
        while self.sock is None:
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                self.sock = self.ctx.wrap_socket(s) if self.tls else s
                self.reconnects += 1
            except OSError:
                self.errors += 1
                time.sleep(0.05)

    def deliver(self, part):
        for line in part:
            self.connect()
            try:
                self.sock.sendall((line + "\n").encode())
                self.sent.append(line)
            except OSError:
                # Not resent: plain syslog has no acknowledgement, a shipper cannot know.
                self.errors += 1
                self.sock.close()
                self.sock = None

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass


def scan_keys(vigil, lines, path):
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    out = subprocess.run([vigil, "scan", "--no-summary", path], capture_output=True, text=True, check=True).stdout
    keys = collections.Counter()
    for text in out.splitlines():
        a = json.loads(text)
        if a.get("format") == "correlation" or not isinstance(a["event"], str) or a["event"].startswith("suppressed "):
            continue
        keys[a["rule"]["id"] + " " + a["event"]] += 1
    return keys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--input", required=True, help="the log each source streams (auth.log)")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None, help="how long the senders stream (default: 2 s per kill)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    rng = random.Random(seed)
    seconds = args.seconds or 2.0 * args.kills
    print(f"chaos: seed {seed}, {args.kills} kills, senders stream for about {seconds:.0f} s")

    base = [line.rstrip("\r") for line in open(args.input, encoding="utf-8", errors="replace").read().splitlines() if line.strip()]
    host = re.compile(r"^(\w{3} [ \d]\d \d\d:\d\d:\d\d) (\S+) ")
    ports = {name: free_port() for name in ("http", "tcp", "tls")}
    work = args.work
    os.makedirs(os.path.join(work, "logs"), exist_ok=True)
    with open(os.path.join(work, "vigil.yml"), "w") as f:
        f.write(f"""data_dir: data
rules: ['@bundled']
metrics: off
http: {{listen: '127.0.0.1:{ports["http"]}'}}
pipeline: {{batch_max_delay_ms: 5, batch_max_records: 256}}
correlation: {{idle_flush: 1h}}
collectors:
  - {{name: file, type: file, paths: ['logs/chaos.log'], poll_interval_ms: 20}}
  - {{name: http, type: http}}
  - {{name: tcp, type: tcp, listen: '127.0.0.1:{ports["tcp"]}'}}
  - {{name: tls, type: tls, listen: '127.0.0.1:{ports["tls"]}', tls: {{cert: '{args.cert}', key: '{args.key}'}}}}
""")

    def lines_for(source):
        return [host.sub(lambda m: m.group(1) + " chaos-" + source + " ", line, count=1) for line in base]

    rate = len(base) / seconds
    senders = {
        "file": FileSender(os.path.join(work, "logs", "chaos.log"), "file", lines_for("file"), rate, 50),
        "http": HttpSender(ports["http"], "http", lines_for("http"), rate, 50),
        "tcp": SyslogSender(ports["tcp"], False, "tcp", lines_for("tcp"), rate, 10),
        "tls": SyslogSender(ports["tls"], True, "tls", lines_for("tls"), rate, 10),
    }
    daemon = Daemon(args.vigil, work)
    started = time.monotonic()
    daemon.start()
    for s in senders.values():
        s.start()
    # Kills at random moments: 0 to 2 x the mean gap after the daemon is ready again.
    gap = seconds / args.kills
    for _ in range(args.kills):
        time.sleep(rng.uniform(0, 2 * gap))
        daemon.kill9()
        daemon.start()
    for s in senders.values():
        s.join()
    for s in (senders["tcp"], senders["tls"]):
        s.close()
    streamed = time.monotonic() - started

    # Settle: the file read to its end and everything committed. The store is read while the
    # daemon runs; it is final once two reads 2 s apart agree and the file's alerts are complete.
    expected = {name: scan_keys(args.vigil, s.sent, os.path.join(work, name + "-sent.log")) for name, s in senders.items()}

    def stored():
        out = subprocess.run([args.vigil, "alerts", "list", "--json", "--limit", "0", "--data-dir",
                              os.path.join(work, "data")], capture_output=True, text=True, check=True).stdout
        per = {name: collections.Counter() for name in senders}
        for text in out.splitlines():
            a = json.loads(text)
            if a.get("format") == "correlation" or a["raw"].startswith("suppressed "):
                continue
            m = host.match(a["raw"])
            source = m.group(2)[len("chaos-"):] if m and m.group(2).startswith("chaos-") else None
            if source in per:
                per[source][a["rule"]["id"] + " " + a["raw"]] += 1
        return per

    last = [None]

    def settled():
        now = stored()
        same = now == last[0]
        last[0] = now
        return same and now["file"] == expected["file"]
    wait_until(settled, 120, pause=2.0)
    code = daemon.stop()
    got = stored()

    failures = []
    print(f"chaos: {args.kills} kill -9s while streaming {streamed:.0f} s; daemon exit on the final SIGTERM: {code}")
    print(f"{'source':6} {'sent':>6} {'expected':>9} {'stored':>7} {'missing':>8} {'extra':>6}  notes")
    for name, s in senders.items():
        want, have = expected[name], got[name]
        missing = sum((want - have).values())
        extra = sum((have - want).values())
        note = ""
        if name == "file":
            if missing or extra:
                failures.append(f"file: {missing} missing, {extra} extra")
        elif name == "http":
            resent = collections.Counter()
            for part in s.ambiguous:
                resent.update(scan_keys(args.vigil, part, os.path.join(work, "http-resent.log")))
            unexplained = sum(((have - want) - resent).values())
            note = f"{s.errors} failed attempts, {len(s.ambiguous)} requests resent after maybe committing ({sum(resent.values())} alerts could be doubled)"
            if missing or unexplained:
                failures.append(f"http: {missing} missing, {unexplained} extra not explained by a resend")
        else:
            note = f"{s.reconnects - 1} reconnects, {s.errors} send errors (lost = missing, doubled = extra)"
        print(f"{name:6} {len(s.sent):>6} {sum(want.values()):>9} {sum(have.values()):>7} {missing:>8} {extra:>6}  {note}")
    if code != 0:
        failures.append(f"the daemon exited with {code} on SIGTERM")
    if failures:
        print("chaos: FAIL: " + "; ".join(failures) + f" (seed {seed}; work dir {work})")
        return 1
    print(f"chaos: PASS (seed {seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
