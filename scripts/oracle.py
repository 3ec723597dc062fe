#!/usr/bin/env python3
"""The oracle of "same input, same alerts": feeds the same events through every way vigil can
take them and requires the same alerts.

  scan paths  `vigil scan` at 1, 2, 4 and 8 threads (the same bytes as 1 thread); many small
              files vs one concatenated file vs stdin vs gzip (the same multiset of rule and
              event, correlation alerts included)
  daemon      `vigil run` fed by file tail, TCP syslog and HTTP POST /ingest: the stored alerts
              equal `vigil scan` over exactly the stream sent (rule and event, correlation
              included), and vigil_alerts_total on /metrics equals the store

Prints one line per path and input with its alert count and OK or DIFF; exits 1 on any DIFF.
`--quick` (CI) takes bounded inputs; without it the whole inputs.

usage: scripts/oracle.py --vigil build/app/vigil [--quick] [--work DIR] [--only scan|daemon]
                        [--bundled-rules]
"""
import argparse
import gzip
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
DEADLINE_S = 120  # every wait is on a condition, with this deadline


class Oracle:
    def __init__(self, vigil, work, corpora, quick, threads_only=False):
        self.threads_only = threads_only
        self.vigil = vigil
        self.work = work
        self.corpora = corpora
        self.quick = quick
        self.failed = False
        self.rows = []

    def report(self, path, data, alerts, ok, detail=""):
        status = "OK" if ok else "DIFF"
        self.failed = self.failed or not ok
        line = f"{path:<34} {data:<22} {alerts:>7}  {status}"
        if detail:
            line += f"  {detail}"
        print(line, flush=True)

    # ---- vigil scan ---------------------------------------------------------------------------

    def scan(self, args, files=None, stdin=None):
        cmd = [self.vigil, "scan", "--no-summary", "--output", "jsonl"] + args + (files or [])
        r = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:6])}... exit {r.returncode}: {r.stderr.decode(errors='replace')[-2000:]}")
        return r.stdout

    def split(self, source, name, files, max_lines, suffix):
        out = os.path.join(self.work, name)
        if not os.path.isdir(out):
            subprocess.run([sys.executable, os.path.join(HERE, "oracle", "split_lines.py"), source, out + ".tmp",
                            "--files", str(files), "--max-lines", str(max_lines), "--suffix", suffix], check=True,
                           stderr=subprocess.DEVNULL)
            os.rename(out + ".tmp", out)
        return sorted(os.path.join(out, f) for f in os.listdir(out))

    def scan_case(self, data, rules, files):
        """Threads, many files vs one vs stdin vs gzip, over one input set."""
        ref = self.scan(rules + ["--threads", "1"], files)
        ref_keys = scan_keys(ref)
        self.report("scan --threads 1 (reference)", data, len(ref_keys), True)
        for t in (2, 4, 8):
            got = self.scan(rules + ["--threads", str(t)], files)
            self.report(f"scan --threads {t} (bytes)", data, len(scan_keys(got)), got == ref)
        if self.threads_only:
            return ref_keys
        joined = os.path.join(self.work, data + ".joined")
        with open(joined, "wb") as out:
            for f in files:
                with open(f, "rb") as src:
                    shutil.copyfileobj(src, out)
        for label, args, inputs, stdin in (
                ("scan one file --threads 1", ["--threads", "1"], [joined], None),
                ("scan one file --threads 2", ["--threads", "2"], [joined], None),
                ("scan stdin", ["--threads", "2"], ["-"], open(joined, "rb").read())):
            got = scan_keys(self.scan(rules + args, inputs, stdin))
            self.report(label, data, len(got), got == ref_keys, key_diff(got, ref_keys))
        gz = joined + ".gz"
        with open(joined, "rb") as src, gzip.open(gz, "wb") as out:
            shutil.copyfileobj(src, out)
        got = scan_keys(self.scan(rules + ["--threads", "2"], [gz]))
        self.report("scan gzip", data, len(got), got == ref_keys, key_diff(got, ref_keys))
        return ref_keys

    # ---- vigil run ----------------------------------------------------------------------------

    def daemon_case(self, data, lines_file):
        with open(lines_file, "rb") as f:
            text = f.read()
        if not text.endswith(b"\n"):
            text += b"\n"
        records = sum(1 for line in text.split(b"\n") if line.strip(b"\r"))
        want = scan_keys(self.scan(["--threads", "1"], [lines_file]))
        for how in ("file", "tcp", "http"):
            got, metric_total, err = self.run_daemon(how, text, records, len(want))
            if err:
                self.report(f"run {how}", data, len(got), False, err)
                continue
            self.report(f"run {how} (store = scan)", data, len(got), got == want, key_diff(got, want))
            self.report(f"run {how} (metrics = store)", data, int(metric_total), metric_total == len(got),
                        "" if metric_total == len(got) else f"vigil_alerts_total {metric_total}")

    def run_daemon(self, how, text, records, expected):
        d = os.path.join(self.work, f"daemon-{how}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "logs"))
        collectors = {
            "file": "  - {name: src, type: file, paths: ['logs/in.log'], poll_interval_ms: 20}\n",
            "tcp": "  - {name: src, type: tcp, listen: '127.0.0.1:0'}\n",
            "http": "  - {name: src, type: http}\n",
        }[how]
        config = ("data_dir: data\nrules: ['@bundled']\nmetrics: {listen: '127.0.0.1:0'}\n"
                  + ("http: {listen: '127.0.0.1:0'}\n" if how == "http" else "http: {enabled: false}\n")
                  + "pipeline: {batch_max_delay_ms: 5}\ncorrelation: {idle_flush: 1s}\ncollectors:\n" + collectors)
        with open(os.path.join(d, "vigil.yml"), "w") as f:
            f.write(config)
        log = open(os.path.join(d, "daemon.log"), "wb")
        proc = subprocess.Popen([self.vigil, "run", "--config", "vigil.yml"], cwd=d, stdout=log, stderr=log)
        try:
            log_text = lambda: open(os.path.join(d, "daemon.log"), errors="replace").read()
            if not wait_until(lambda: "vigil: ready" in log_text()):
                return [], 0, "daemon did not start: " + log_text()[-500:]
            metrics_port = int(re.search(r"vigil: metrics on http://[^ ]*:(\d+)/metrics", log_text()).group(1))
            if how == "file":
                with open(os.path.join(d, "logs", "in.log"), "wb") as f:
                    f.write(text)
            elif how == "tcp":
                port = int(re.search(r"vigil: collector src \([a-z]+\) on [^ ]*:(\d+)", log_text()).group(1))
                with socket.create_connection(("127.0.0.1", port)) as s:
                    s.sendall(text)
            else:
                port = int(re.search(r"vigil: http on https?://[^ ]*:(\d+)", log_text()).group(1))
                # Bodies of up to 1 MiB, cut at line ends; each reply comes after its commit.
                start = 0
                while start < len(text):
                    end = text.rfind(b"\n", start, start + (1 << 20)) + 1 or len(text)
                    req = urllib.request.Request(f"http://127.0.0.1:{port}/ingest", data=text[start:end],
                                                 headers={"Content-Type": "text/plain"}, method="POST")
                    with urllib.request.urlopen(req, timeout=DEADLINE_S) as reply:
                        if reply.status != 200:
                            return [], 0, f"/ingest answered {reply.status}"
                    start = end
            received = lambda: metric(metrics_port, "vigil_events_received_total", 'collector="src"')
            if not wait_until(lambda: received() >= records):
                return [], 0, f"received {received()} of {records} events"
            # The last windows close on the idle flush; then the store stops growing.
            stored = lambda: metric(metrics_port, "vigil_alerts_total")
            wait_until(lambda: stored() >= expected)
            total = stored()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
        r = subprocess.run([self.vigil, "alerts", "list", "--json", "--oldest-first", "--limit", "0",
                            "--data-dir", os.path.join(d, "data")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            return [], total, "alerts list failed: " + r.stderr.decode(errors="replace")
        return stored_keys(r.stdout), total, ""


def wait_until(predicate, deadline_s=DEADLINE_S):
    end = time.monotonic() + deadline_s
    pause = 0.01
    while time.monotonic() < end:
        try:
            if predicate():
                return True
        except (OSError, ValueError, AttributeError):
            pass  # not up yet
        time.sleep(pause)
        pause = min(pause * 2, 0.25)
    return False


def metric(port, name, labels=""):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        page = r.read().decode()
    total = 0.0
    for line in page.splitlines():
        if not line.startswith(name) or line[len(name):len(name) + 1] not in (" ", "{"):
            continue
        if labels and labels not in line:
            continue
        total += float(line.rsplit(" ", 1)[1])
    return total


def normal_event(raw):
    """The event as text, JSON events in one canonical form (a stored raw JSON line and scan's
    echoed object are the same event)."""
    if isinstance(raw, str):
        s = raw.strip()
        if s.startswith("{"):
            try:
                return json.dumps(json.loads(s), sort_keys=True, separators=(",", ":"))
            except ValueError:
                return raw
        return raw
    return json.dumps(raw, sort_keys=True, separators=(",", ":"))


def alert_keys(output, event_member):
    """Rule id and event of every alert line: scan prints the event as "event", the store
    keeps it as "raw"."""
    keys = Counter()
    for line in output.splitlines():
        if line.strip():
            a = json.loads(line)
            keys[a["rule"]["id"] + " " + normal_event(a[event_member])] += 1
    return keys


def scan_keys(output):
    return alert_keys(output, "event")


def stored_keys(output):
    return alert_keys(output, "raw")


def key_diff(got, want):
    if got == want:
        return ""
    missing, extra = want - got, got - want
    first = next(iter(missing or extra))
    return f"{sum(missing.values())} missing, {sum(extra.values())} extra, first: {first[:160]}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--quick", action="store_true", help="bounded inputs (CI)")
    ap.add_argument("--work", default="/tmp/vigil-oracle")
    ap.add_argument("--only", choices=["scan", "daemon"])
    ap.add_argument("--threads-only", action="store_true",
                    help="of the scan paths, only the thread counts (ThreadSanitizer builds)")
    ap.add_argument("--bundled-rules", action="store_true",
                    help="OTRF against the bundled packs instead of SigmaHQ's 2,400 Windows rules "
                         "(sanitizer builds, whose rule compilation is slow)")
    args = ap.parse_args()
    corpora = os.environ.get("VIGIL_CORPORA", os.path.join(HERE, "..", "..", "shared", "corpora"))
    if not os.path.isdir(corpora):
        print(f"oracle: corpora not found at {corpora} (set VIGIL_CORPORA)", file=sys.stderr)
        return 2
    os.makedirs(args.work, exist_ok=True)
    o = Oracle(os.path.abspath(args.vigil), args.work, corpora, args.quick, args.threads_only)
    print(f"{'path':<34} {'input':<22} {'alerts':>7}  result", flush=True)
    if args.only in (None, "scan"):
        otrf = os.path.join(args.work, "otrf_windows.ndjson")
        if not os.path.exists(otrf):
            subprocess.run(["bash", os.path.join(HERE, "..", "bench", "prepare_data.sh")], check=True,
                           env=dict(os.environ, VIGIL_BENCH_DIR=args.work, VIGIL_CORPORA=corpora),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        files = o.split(otrf, "otrf1500", 1500, 200, ".jsonl")
        if args.quick:
            files = files[:200]
        otrf_rules = ["--rules", "@bundled"] if args.bundled_rules else \
            ["--rules", os.path.join(corpora, "sigma", "rules", "windows")]
        o.scan_case(f"otrf-split({len(files)})", otrf_rules, files)
        for name, path in (("auth.log-split", "elastic-examples/auth.log"),
                           ("openssh-split", "loghub/OpenSSH/OpenSSH_2k.log"),
                           ("apache-split", "elastic-examples/apache_access.log")):
            src = os.path.join(corpora, path)
            if args.quick and os.path.getsize(src) > (4 << 20):
                continue
            o.scan_case(name, [], o.split(src, name, 300, 60, ".log"))
    if args.only in (None, "daemon"):
        o.daemon_case("auth.log", os.path.join(corpora, "elastic-examples", "auth.log"))
        if not args.quick:
            o.daemon_case("openssh", os.path.join(corpora, "loghub", "OpenSSH", "OpenSSH_2k.log"))
    print("oracle: " + ("DIFF found" if o.failed else "every path agrees"), flush=True)
    return 1 if o.failed else 0


if __name__ == "__main__":
    sys.exit(main())
