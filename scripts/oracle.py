#!/usr/bin/env python3
"""The oracle of "same input, same alerts": feeds the same events through every way vigil can
take them and requires the same alerts.

  scan paths  `vigil scan` at 1, 2, 4 and 8 threads (the same bytes as 1 thread); many small
              files vs one concatenated file vs stdin vs gzip (the same multiset of rule and
              event, correlation alerts included)
  daemon      `vigil run` fed by file tail, TCP syslog and HTTP POST /ingest: the stored alerts
              equal `vigil scan` over exactly the stream sent (rule and event, correlation
              included), and vigil_alerts_total on /metrics equals the store; and a brute force
              over TCP with the stream quiet (until the idle flush ran) before the success
  shippers    the same for real shippers started on loopback (scripts/oracle/shippers.py):
              rsyslog's omfwd with its default, forward and RFC 5424 templates over UDP, TCP
              (octet-counted) and TLS, and a JSON template over TCP; syslog-ng's network() and
              syslog() drivers. The input carries a brute force (twelve failed SSH logins, then a
              success) that must raise both correlation alerts in each; and the same events in
              BSD, RFC 5424 and JSON form give the same alerts; and that brute force live
              (stamped now, in two seconds) through rsyslog's default and RFC 5424 templates:
              each correlation alert committed within 1 s of its deciding event
  inputs      OTRF split into 1,500 files (seeded; 200 with --quick; --repeat N runs each thread
              count N times), auth.log, OpenSSH and Apache splits, SigmaHQ's regression events,
              the web-payloads corpus as access-log lines (4,000 with --quick), the device logs,
              the EVTX corpus (thread counts only), and edge files (empty, no trailing newline,
              CRLF, an oversize line, binary, a dangling link, a socket, a FIFO, and files
              removed and truncated while the scan runs)

Prints one line per path and input with its alert count and OK or DIFF; exits 1 on any DIFF.
`--quick` (CI) takes bounded inputs; without it the whole inputs.

usage: scripts/oracle.py --vigil build/app/vigil [--quick] [--work DIR] [--only scan|daemon|shippers]
                        [--bundled-rules] [--threads-only] [--repeat N]
"""
import argparse
import contextlib
import datetime
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
import threading
import time
import urllib.request
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "oracle"))
sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))
import shippers  # noqa: E402  (scripts/oracle/shippers.py)

HERE = os.path.dirname(os.path.abspath(__file__))
DEADLINE_S = 120  # every wait is on a condition, with this deadline
QUICK_SHIPPER_LINES = 3000  # of auth.log, per shipper case in --quick


class Oracle:
    def __init__(self, vigil, work, corpora, quick, threads_only=False):
        self.threads_only = threads_only
        self.vigil = vigil
        self.work = work
        self.corpora = corpora
        self.quick = quick
        self.failed = False
        self.rows = []
        self.shipped = {}  # shipper case label -> its daemon dir (sent.log)

    def report(self, path, data, alerts, ok, detail=""):
        status = "OK" if ok else "DIFF"
        self.failed = self.failed or not ok
        line = f"{path:<48} {data:<27} {alerts:>7}  {status}"
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

    def scan_case(self, data, rules, files, joinable=True, repeat=1):
        """Threads, many files vs one vs stdin vs gzip, over one input set (threads only for
        files that cannot be joined into one stream, such as EVTX)."""
        ref = self.scan(rules + ["--threads", "1"], files)
        ref_keys = scan_keys(ref)
        self.report("scan --threads 1 (reference)", data, len(ref_keys), True)
        for t in (2, 4, 8):
            same, failures, got = 0, [], ref
            for _ in range(repeat):
                try:
                    got = self.scan(rules + ["--threads", str(t)], files)
                    same += got == ref
                except RuntimeError as e:  # a crash or an error exit
                    failures.append(str(e)[:200])
            label = f"scan --threads {t} (bytes" + (f", {repeat} runs)" if repeat > 1 else ")")
            detail = "" if same == repeat else f"{same} of {repeat} identical" + (f"; {failures[0]}" if failures else "")
            self.report(label, data, len(scan_keys(got)), same == repeat, detail)
        if self.threads_only or not joinable:
            return ref_keys
        joined = os.path.join(self.work, data + ".joined")
        with open(joined, "wb") as out:
            for f in files:
                with open(f, "rb") as src:
                    content = src.read()
                # A file whose last line has no newline ends that line; joined, it must too.
                out.write(content if not content or content.endswith(b"\n") else content + b"\n")
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

    def edge_case(self, source):
        """Edge files among good ones: empty, no trailing newline, CRLF, a line far over the
        record limit, binary bytes, a vanished path (dangling link), a socket, a FIFO. Each good
        variant gives the alerts of the plain file; scanned together at 1 and 2 threads, the bad
        ones are named on stderr with a reason, the rest are scanned, and the exit status is 2."""
        d = os.path.join(self.work, "edge")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        with open(source, "rb") as f:
            lines = [line.rstrip(b"\r\n") for line in f if line.strip()][:3000]
        text = b"\n".join(lines) + b"\n"
        half = len(lines) // 2
        long_bytes = (8 << 20) if self.quick else (100 << 20)
        files = {
            "good.log": text,
            "nonl.log": text[:-1],
            "crlf.log": text.replace(b"\n", b"\r\n"),
            "empty.log": b"",
            "binary.log": random.Random(7).randbytes(65536),
            "longline.log": b"\n".join(lines[:half]) + b"\n" + b"x" * long_bytes + b"\n" + b"\n".join(lines[half:]) + b"\n",
        }
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as out:
                out.write(data)
        os.symlink("/nonexistent/vigil-oracle", os.path.join(d, "vanished.log"))
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(os.path.join(d, "sock.log"))
        fifo = os.path.join(d, "fifo.log")
        os.mkfifo(fifo)
        ref = detection_keys(self.scan(["--threads", "1"], [os.path.join(d, "good.log")]))
        self.report("edge: plain file (reference)", "auth.log(3000)", sum(ref.values()), sum(ref.values()) > 0)
        for name in ("nonl.log", "crlf.log", "longline.log"):
            got = detection_keys(self.scan(["--threads", "1"], [os.path.join(d, name)]))
            self.report(f"edge: {name} = plain", "auth.log(3000)", sum(got.values()), got == ref, key_diff(got, ref))
        got = detection_keys(self.scan(["--threads", "1"], [os.path.join(d, "binary.log")]))
        self.report("edge: binary.log, no alerts", "64 KiB random", sum(got.values()), not got)
        order = ["good.log", "empty.log", "nonl.log", "crlf.log", "binary.log", "longline.log", "vanished.log",
                 "sock.log", "fifo.log"]
        want = Counter({k: v * 5 for k, v in ref.items()})  # good, nonl, crlf, longline, fifo
        for threads in (1, 2):
            writer = threading.Thread(target=lambda: open(fifo, "wb").write(text))
            writer.start()
            r = subprocess.run([self.vigil, "scan", "--output", "jsonl", "--threads", str(threads)] +
                               [os.path.join(d, n) for n in order], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            writer.join()
            err = r.stderr.decode(errors="replace")
            got = detection_keys(r.stdout)
            named = all(re.search(re.escape(n) + r": \S", err) for n in ("vanished.log", "sock.log"))
            ok = r.returncode == 2 and named and got == want
            detail = "" if ok else f"exit {r.returncode}, bad files named: {named}, {key_diff(got, want)}"
            self.report(f"edge: all together --threads {threads}", "9 files", sum(got.values()), ok, detail)
        sock.close()
        self.changed_during_scan_case(d, text, ref)

    def changed_during_scan_case(self, d, text, ref):
        """Files removed and truncated after `vigil scan` started, before it reached them. Each
        scan thread is held on a FIFO of its own at the head of the list (the threads take the
        inputs in order), so the files change while the scan runs, at a known point. The removed
        file is named on stderr, the truncated one gives the alerts of what is left, the rest is
        scanned, and the exit status is 2."""
        lines = text.split(b"\n")
        cut = b"\n".join(lines[: len(lines) // 3]) + b"\n"
        want_cut = detection_keys(self.scan(["--threads", "1"], [self.write(d, "cut-ref.log", cut)]))
        for threads in (1, 2):
            fifos = [os.path.join(d, f"hold{threads}-{i}.fifo") for i in range(threads)]
            for fifo in fifos:
                os.mkfifo(fifo)
            removed = self.write(d, f"removed{threads}.log", text)
            truncated = self.write(d, f"truncated{threads}.log", text)
            tail = self.write(d, f"after{threads}.log", text)
            proc = subprocess.Popen([self.vigil, "scan", "--output", "jsonl", "--threads", str(threads)] + fifos +
                                    [removed, truncated, tail], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # Opening a FIFO for writing returns once vigil has opened it for reading: then every
            # thread is inside the scan, held on its FIFO.
            writers = [open(fifo, "wb") for fifo in fifos]
            os.remove(removed)
            with open(truncated, "r+b") as f:
                f.truncate(len(cut))
            for w in writers:
                w.write(text)
                w.close()
            out, err = proc.communicate(timeout=DEADLINE_S)
            got = detection_keys(out)
            want = Counter({k: v * (threads + 1) for k, v in ref.items()}) + want_cut
            named = re.search(re.escape(removed) + r": \S", err.decode(errors="replace")) is not None
            ok = proc.returncode == 2 and named and got == want
            detail = "" if ok else f"exit {proc.returncode}, removed file named: {named}, {key_diff(got, want)}"
            self.report(f"edge: removed, truncated mid-scan --threads {threads}", f"{threads + 3} files",
                        sum(got.values()), ok, detail)

    def web_payload_log(self):
        """The attack payloads of the web-payloads corpus as combined access-log lines, each in
        the four places a client puts it (scripts/web_detection_eval.py renders them); with
        --quick a seeded sample of 4,000 lines."""
        path = os.path.join(self.work, "web-payloads.log" if not self.quick else "web-payloads-quick.log")
        if os.path.exists(path):
            return path
        import web_detection_eval as web  # scripts/web_detection_eval.py
        lines = [web.render(payload, placement, n)
                 for n, (_, payload) in enumerate(web.load_attacks(self.corpora))
                 for placement in ("query", "path", "agent", "referer")]
        if self.quick:
            lines = random.Random(26).sample(lines, 4000)
        with open(path + ".tmp", "w", encoding="utf-8", errors="surrogateescape") as f:
            f.writelines(line + "\n" for line in lines)
        os.rename(path + ".tmp", path)
        return path

    @staticmethod
    def write(d, name, data):
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    # ---- vigil run ----------------------------------------------------------------------------

    def daemon_case(self, data, lines_file):
        with open(lines_file, "rb") as f:
            text = f.read()
        if not text.endswith(b"\n"):
            text += b"\n"
        records = [line.rstrip(b"\r") for line in text.split(b"\n") if line.strip(b"\r")]
        for how in ("file", "tcp", "http"):
            collector = {
                "file": "{type: file, paths: ['logs/in.log'], poll_interval_ms: 20}",
                "tcp": "{type: tcp, listen: '127.0.0.1:0'}",
                "http": "{type: http}",
            }[how]

            def feed(d, log_text, stack, how=how):
                if how == "file":
                    with open(os.path.join(d, "logs", "in.log"), "wb") as f:
                        f.write(text)
                elif how == "tcp":
                    with socket.create_connection(("127.0.0.1", collector_port(log_text()))) as s:
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
                                return [], f"/ingest answered {reply.status}"
                        start = end
                return records, ""

            self.daemon_report(f"run {how}", data, self.run_daemon(how, collector, feed, http=how == "http"))

    def quiet_case(self):
        """The brute force of ssh_burst over TCP, with the stream quiet between the failures and the
        success until the idle flush has run (its brute-force alert is stored): the success still
        completes the success-after-failures sequence, as in `vigil scan`."""
        burst = ssh_burst(b"Mar 30 15:00:00")

        def feed(d, log_text, stack):
            metrics_port = int(re.search(r"vigil: metrics on http://[^ ]*:(\d+)/metrics", log_text()).group(1))
            with socket.create_connection(("127.0.0.1", collector_port(log_text()))) as s:
                s.sendall(b"".join(r + b"\n" for r in burst[:-1]))
                if not wait_until(lambda: metric(metrics_port, "vigil_alerts_total") >= 1):
                    return [], "no idle flush: the brute force was not stored"
                s.sendall(burst[-1] + b"\n")
            return burst, ""

        got, want, total, err = self.run_daemon("tcp-quiet", "{type: tcp, listen: '127.0.0.1:0'}", feed)
        self.daemon_report("run tcp, quiet", "burst, quiet before success", (got, want, total, err))
        if not err:
            self.check_burst("run tcp, quiet", "burst, quiet before success", got, want)

    def daemon_report(self, path, data, result):
        got, want, metric_total, err = result
        if err:
            self.report(path, data, len(got), False, err)
            return
        # `got` counts alerts per key: two alerts of one rule on two identical lines (a log
        # repeats itself within a second) share a key, so the store's size is the sum.
        stored = sum(got.values())
        self.report(f"{path} (store = scan)", data, stored, got == want, key_diff(got, want))
        self.report(f"{path} (metrics = store)", data, int(metric_total), metric_total == stored,
                    "" if metric_total == stored else f"vigil_alerts_total {metric_total}, stored {stored}")

    def run_daemon(self, name, collector, feed, http=False, scan_args=()):
        """Starts `vigil run` (bundled rules) in work/daemon-<name> with one collector `src`
        (`collector`: a YAML flow mapping without the name), then feed(dir, log_text, stack)
        sends the events and returns (records, err): the records exactly as sent, the stream vigil
        got, which `vigil scan` (with `scan_args`) then reads as the reference. Whatever feed
        starts it registers on `stack`, closed once the daemon has everything and before it stops.
        Returns (stored alert keys, scan alert keys, vigil_alerts_total, err)."""
        d = os.path.join(self.work, f"daemon-{name}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "logs"))
        config = ("data_dir: data\nrules: ['@bundled']\nmetrics: {listen: '127.0.0.1:0'}\n"
                  + ("http: {listen: '127.0.0.1:0'}\n" if http else "http: {enabled: false}\n")
                  + "pipeline: {batch_max_delay_ms: 5}\ncorrelation: {idle_flush: 1s}\ncollectors:\n"
                  + "  - {name: src, " + collector.strip()[1:] + "\n")
        with open(os.path.join(d, "vigil.yml"), "w") as f:
            f.write(config)
        log = open(os.path.join(d, "daemon.log"), "wb")
        proc = subprocess.Popen([self.vigil, "run", "--config", "vigil.yml"], cwd=d, stdout=log, stderr=log)
        want = Counter()
        try:
            log_text = lambda: open(os.path.join(d, "daemon.log"), errors="replace").read()
            if not wait_until(lambda: "vigil: ready" in log_text() or proc.poll() is not None) \
                    or proc.poll() is not None:
                return [], want, 0, "daemon did not start: " + log_text()[-500:]
            metrics_port = int(re.search(r"vigil: metrics on http://[^ ]*:(\d+)/metrics", log_text()).group(1))
            with contextlib.ExitStack() as stack:
                sent, err = feed(d, log_text, stack)
                if err:
                    return [], want, 0, err
                sent_file = os.path.join(d, "sent.log")
                with open(sent_file, "wb") as f:
                    f.write(b"".join(r + b"\n" for r in sent))
                want = scan_keys(self.scan(["--threads", "1"] + list(scan_args), [sent_file]))
                received = lambda: metric(metrics_port, "vigil_events_received_total", 'collector="src"')
                if not wait_until(lambda: received() >= len(sent)):
                    return [], want, 0, f"received {received():.0f} of {len(sent)} events"
            # The last windows close on the idle flush; then the store stops growing.
            stored = lambda: metric(metrics_port, "vigil_alerts_total")
            wait_until(lambda: stored() >= sum(want.values()))
            # A correlation alert raised early is revised in place as its window grows (the
            # count of stored alerts does not move): wait, with a deadline, until the store
            # reads as the scan (the store is readable beside the running daemon).
            wait_until(lambda: self.stored_now(d) == want, deadline_s=30)
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
            return [], want, total, "alerts list failed: " + r.stderr.decode(errors="replace")
        return stored_keys(r.stdout), want, total, ""

    def stored_now(self, d):
        r = subprocess.run([self.vigil, "alerts", "list", "--json", "--oldest-first", "--limit", "0",
                            "--data-dir", os.path.join(d, "data")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return stored_keys(r.stdout) if r.returncode == 0 else None

    # ---- real shippers ------------------------------------------------------------------------

    def shipper_cases(self, data, lines):
        """rsyslog's omfwd (default, forward and RFC 5424 templates over UDP, TCP octet-counted
        and TLS) and syslog-ng's network() and syslog() drivers relay `lines` plus a brute force
        (ssh_burst) to `vigil run`; see run_daemon and scripts/oracle/shippers.py. rsyslog and
        syslog-ng run in separate steps (Debian makes them conflict)."""
        records = lines + ssh_burst(lines[-1])
        data = f"{data}+burst({len(records)})"
        forms = {}
        try:
            rsyslog = shippers.Rsyslog(os.path.join(self.work, "cache"))
        except shippers.Skip as e:
            print(f"skip: rsyslog cases: {e}", flush=True)
        else:
            cert = key = None
            try:
                if rsyslog.has_gtls:
                    cert, key = shippers.self_signed_cert(os.path.join(self.work, "cache", "tls"))
            except (shippers.Skip, subprocess.CalledProcessError) as e:
                print(f"skip: rsyslog TLS cases: {e}", flush=True)
            if not rsyslog.has_gtls:
                print("skip: rsyslog TLS cases: no lmnsd_gtls.so (Debian package rsyslog-gnutls)", flush=True)
            for name, template in (("default", None), ("forward", "RSYSLOG_ForwardFormat"),
                                   ("rfc5424", "RSYSLOG_SyslogProtocol23Format")):
                for transport in ("udp", "tcp", "tls"):
                    if transport == "tls" and not cert:
                        continue
                    label = f"rsyslog {name} {transport}"
                    make = lambda d, i, v, c, t=template, tr=transport: rsyslog.config(d, i, v, c, t, tr, cert)
                    got, want = self.shipper_case(label, data, rsyslog, make, transport, records, cert, key)
                    self.check_burst(label, data, got, want)
                    if transport == "tcp":
                        forms[f"rsyslog {'RFC 5424' if name == 'rfc5424' else name}"] = label
            for name, template in (("default", None), ("rfc5424", "RSYSLOG_SyslogProtocol23Format")):
                make = lambda d, i, v, c, t=template: rsyslog.config(d, i, v, c, t, "tcp", None)
                self.live_burst_case(f"rsyslog {name} tcp, live", rsyslog, make)
            if rsyslog.has_relp:
                for name, template in (("forward", "RSYSLOG_ForwardFormat"), ("rfc5424", "RSYSLOG_SyslogProtocol23Format")):
                    label = f"rsyslog {name} relp"
                    make = lambda d, i, v, c, t=template: rsyslog.config(d, i, v, c, t, "relp")
                    got, want = self.shipper_case(label, data, rsyslog, make, "relp", records)
                    self.check_burst(label, data, got, want)
                self.relp_kill_case(data, rsyslog, records)
            else:
                print("skip: rsyslog RELP cases: no omrelp.so (Debian package rsyslog-relp)", flush=True)
            label = "rsyslog json tcp"
            make = lambda d, i, v, c: rsyslog.config(d, i, v, c, "vigil_json", "tcp")
            got, want = self.shipper_case(label, data, rsyslog, make, "tcp", records, product="linux")
            self.check_burst(label, data, got, want)
            forms["rsyslog JSON"] = label
        try:
            syslog_ng = shippers.SyslogNg()
        except shippers.Skip as e:
            print(f"skip: syslog-ng cases: {e}", flush=True)
        else:
            for driver in ("network", "syslog"):
                label = f"syslog-ng {driver}() tcp"
                make = lambda d, i, v, c, dr=driver: syslog_ng.config(d, i, v, c, dr)
                got, want = self.shipper_case(label, data, syslog_ng, make, "tcp", records)
                self.check_burst(label, data, got, want)
                forms[f"syslog-ng {driver}()"] = label
        self.forms_check(data, forms)

    def shipper_case(self, label, data, shipper, make_config, transport, records, cert=None, key=None,
                     product=None, send=None):
        """One shipper relaying `records` to `vigil run`; `send(sock)` sends them to the shipper
        (default: all at once)."""
        collector = {"udp": "{type: udp, listen: '127.0.0.1:0'",
                     "relp": "{type: relp, listen: '127.0.0.1:0'",
                     "tcp": "{type: tcp, listen: '127.0.0.1:0'",
                     "tls": f"{{type: tls, listen: '127.0.0.1:0', tls: {{cert: '{cert}', key: '{key}'}}"}[transport]
        collector += f", logsource: {{product: {product}}}}}" if product else "}"

        def feed(d, log_text, stack):
            capture = shippers.Capture()
            stack.callback(capture.close)
            in_port = shippers.free_port()
            conf = make_config(d, in_port, collector_port(log_text()), capture.port)
            shipper_log = open(os.path.join(d, "shipper.log"), "wb")
            stack.callback(shipper_log.close)
            try:
                proc = shipper.start(d, conf, shipper_log)
            except RuntimeError as e:
                return [], str(e)
            stack.callback(shippers.stop_pid, proc, DEADLINE_S)
            tail = lambda: open(os.path.join(d, "shipper.log"), errors="replace").read()[-500:]
            if not wait_until(lambda: proc.poll() is not None or shippers.accepts(in_port)) or proc.poll() is not None:
                return [], "shipper did not start: " + tail()
            with socket.create_connection(("127.0.0.1", in_port)) as s:
                if send:
                    send(s)
                else:
                    s.sendall(b"".join(r + b"\n" for r in records))
            if not wait_until(lambda: capture.count() >= len(records)):
                return [], f"the shipper relayed {capture.count()} of {len(records)} events: " + tail()
            return capture.records(), ""

        result = self.run_daemon(label.replace(" ", "-").replace("()", ""), collector, feed,
                                 scan_args=["--logsource", f"product={product}"] if product else [])
        self.daemon_report(label, data, result)
        self.shipped[label] = os.path.join(self.work, "daemon-" + label.replace(" ", "-").replace("()", ""))
        return result[0], result[1]

    def relp_kill_case(self, data, rsyslog, records):
        """rsyslog's omrelp relays `records` to `vigil run`, which is killed (SIGKILL) mid-stream
        and restarted on the same port and data dir; rsyslog resends what vigil had not
        acknowledged. Every alert `vigil scan` finds in what rsyslog sent must be stored at least
        once (RELP is at-least-once: an event stored but not yet acknowledged when vigil died is
        stored again; those duplicates are counted and reported, not failed)."""
        label = "rsyslog relp, vigil kill -9"
        d = os.path.join(self.work, "daemon-rsyslog-relp-kill")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        port = shippers.free_port()
        with open(os.path.join(d, "vigil.yml"), "w") as f:
            f.write("data_dir: data\nrules: ['@bundled']\nmetrics: {listen: '127.0.0.1:0'}\nhttp: {enabled: false}\n"
                    "pipeline: {batch_max_delay_ms: 5}\ncorrelation: {idle_flush: 1s}\ncollectors:\n"
                    f"  - {{name: src, type: relp, listen: '127.0.0.1:{port}'}}\n")
        logs = []

        def start_vigil():
            log_path = os.path.join(d, f"daemon{len(logs)}.log")
            log = open(log_path, "wb")
            logs.append(log)
            proc = subprocess.Popen([self.vigil, "run", "--config", "vigil.yml"], cwd=d, stdout=log, stderr=log)
            text = lambda: open(log_path, errors="replace").read()
            if not wait_until(lambda: "vigil: ready" in text() or proc.poll() is not None) or proc.poll() is not None:
                raise RuntimeError("daemon did not start: " + text()[-500:])
            return proc, int(re.search(r"vigil: metrics on http://[^ ]*:(\d+)/metrics", text()).group(1))

        received = lambda mport: metric(mport, "vigil_events_received_total", 'collector="src"')
        procs = []
        try:
            with contextlib.ExitStack() as stack:
                first, mport = start_vigil()
                procs.append(first)
                capture = shippers.Capture()
                stack.callback(capture.close)
                in_port = shippers.free_port()
                conf = rsyslog.config(d, in_port, port, capture.port, "RSYSLOG_ForwardFormat", "relp")
                shipper_log = open(os.path.join(d, "shipper.log"), "wb")
                stack.callback(shipper_log.close)
                proc = rsyslog.start(d, conf, shipper_log)
                stack.callback(shippers.stop_pid, proc, DEADLINE_S)
                if not wait_until(lambda: proc.poll() is not None or shippers.accepts(in_port)) or proc.poll() is not None:
                    self.report(label, data, 0, False, "rsyslog did not start")
                    return
                with socket.create_connection(("127.0.0.1", in_port)) as s:
                    s.sendall(b"".join(r + b"\n" for r in records))
                # Mid-stream: some events stored (and acknowledged), the rest still on the way.
                if not wait_until(lambda: received(mport) >= len(records) // 3):
                    self.report(label, data, 0, False, f"vigil received only {received(mport):.0f} events")
                    return
                killed_at = received(mport)
                os.kill(first.pid, signal.SIGKILL)
                first.wait()
                second, mport = start_vigil()
                procs.append(second)
                if not wait_until(lambda: capture.count() >= len(records)):
                    self.report(label, data, 0, False, f"rsyslog relayed {capture.count()} of {len(records)}")
                    return
                # rsyslog resends in order on one connection, so once the second vigil's count
                # stops growing (no event for 3 s) everything unacknowledged has been resent.
                last = [-1.0, time.monotonic()]

                def settled():
                    now = received(mport)
                    if now != last[0]:
                        last[0], last[1] = now, time.monotonic()
                    return now > 0 and time.monotonic() - last[1] >= 3

                wait_until(settled)
                resent = received(mport)
                sent = capture.records()
            with open(os.path.join(d, "sent.log"), "wb") as f:
                f.write(b"".join(r + b"\n" for r in sent))
            want = scan_keys(self.scan(["--threads", "1"], [os.path.join(d, "sent.log")]))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(timeout=DEADLINE_S)
                    except subprocess.TimeoutExpired:
                        p.kill()
            for log in logs:
                log.close()
        r = subprocess.run([self.vigil, "alerts", "list", "--json", "--oldest-first", "--limit", "0",
                            "--data-dir", os.path.join(d, "data")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            self.report(label, data, 0, False, "alerts list failed: " + r.stderr.decode(errors="replace"))
            return
        got = stored_keys(r.stdout)
        missing, extra = want - got, got - want
        events_dup = killed_at + resent - len(sent)
        detail = (f"killed after {killed_at:.0f} events received; {resent:.0f} received after the restart; "
                  f"{max(events_dup, 0):.0f} events delivered twice, {sum(extra.values())} duplicate alerts")
        if missing:
            detail = f"{sum(missing.values())} alerts missing, e.g. {next(iter(missing))}; " + detail
        print(f"  {label}: {detail}", flush=True)
        self.report(label + " (none lost)", data, sum(got.values()), not missing, detail if missing else "")

    def live_burst_case(self, label, shipper, make_config):
        """The scenario of issue 28, live: twelve failed SSH logins and a success from one
        address within two seconds, stamped with the current time, relayed by the shipper. The
        brute-force alert must be stored within 1 s of the tenth failure's sending, the
        success-after-failures alert within 1 s of the success's (the alerts' commit times)."""
        now = datetime.datetime.now()
        burst = [f"{now:%b} {now.day:2d} {now:%H:%M:%S} bastion02 sshd[{4200 + i}]: "
                 f"{'Accepted' if i == 12 else 'Failed'} password for deploy from {LIVE_SOURCE} port {50200 + i} ssh2"
                 .encode() for i in range(13)]
        sent_ns = {}

        def send(sock):
            for i, record in enumerate(burst):
                sent_ns[i] = time.time_ns()
                sock.sendall(record + b"\n")
                time.sleep(0.15)  # the attack's own pace: 13 events in about two seconds

        data = "live burst(13)"
        got, want = self.shipper_case(label, data, shipper, make_config, "tcp", burst, send=send)
        if not got:
            return
        d = self.shipped[label]
        r = subprocess.run([self.vigil, "alerts", "list", "--json", "--limit", "0", "--data-dir", os.path.join(d, "data")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        created = {}
        for line in r.stdout.splitlines():
            a = json.loads(line)
            if LIVE_SOURCE.encode() in json.dumps(a).encode():
                t = datetime.datetime.fromisoformat(a["created"][:26].rstrip("Z") + "+00:00")
                created.setdefault(a["rule"]["id"], t.timestamp() * 1e9)
        for rule, what, event in ((BRUTE_FORCE_RULE, "brute force", 9), (SUCCESS_AFTER_FAILURES_RULE,
                                                                          "success after failures", 12)):
            latency_ms = (created[rule] - sent_ns[event]) / 1e6 if rule in created else None
            ok = latency_ms is not None and latency_ms <= 1000
            detail = f"stored {latency_ms:.0f} ms after its deciding event was sent" if latency_ms is not None \
                else "not stored"
            self.report(f"{label} ({what} <= 1 s)", data, 1 if rule in created else 0, ok, detail)

    def check_burst(self, label, data, got, want):
        """The brute force of ssh_burst raises both correlation alerts, stored and scanned."""
        names = {BRUTE_FORCE_RULE: "brute force", SUCCESS_AFTER_FAILURES_RULE: "success after failures"}
        missing = [f"{n} not {where}" for rid, n in names.items()
                   for where, keys in (("stored", got), ("scanned", want))
                   if not any(k.startswith(rid) and BURST_SOURCE in k for k in keys)]
        self.report(f"{label} (burst: 2 correlations)", data, sum(1 for k in (got or {}) for rid in names
                                                                   if k.startswith(rid) and BURST_SOURCE in k),
                    not missing, ", ".join(missing))

    def forms_check(self, data, forms):
        """The same events in BSD, RFC 5424 and JSON form (as each shipper sent them) give the same
        alerts: rule and (host, program, message) of each alert of `vigil scan` over each form."""
        ref_label, ref = None, None
        for form, label in forms.items():
            sent = os.path.join(self.shipped[label], "sent.log")
            if not os.path.exists(sent):
                continue
            args = ["--logsource", "product=linux"] if "JSON" in form else []
            keys = form_keys(self.scan(["--threads", "1"] + args, [sent]))
            if ref is None:
                ref_label, ref = form, keys
                continue
            self.report(f"forms: {form} = {ref_label}", data, sum(keys.values()), keys == ref, key_diff(keys, ref))


def collector_port(log_text):
    return int(re.search(r"vigil: collector src \([a-z]+\) on [^ ]*:(\d+)", log_text).group(1))


BRUTE_FORCE_RULE = "e7c29363-3762-4fb9-b5d3-06a78a9eae53"  # rules/packs/linux/linux_ssh_brute_force_correlation.yml
SUCCESS_AFTER_FAILURES_RULE = "ab8c3939-9a23-4f35-9af5-dbbe7dfbe597"  # ..._ssh_success_after_failures_correlation.yml
BURST_SOURCE = "198.51.100.23"
LIVE_SOURCE = "198.51.100.42"  # the live burst (Oracle.live_burst_case)


def ssh_burst(last_line):
    """Twelve failed SSH logins and then a success from one address (BURST_SOURCE), a minute
    after the BSD timestamp that starts `last_line`."""
    t = datetime.datetime.strptime(last_line[:15].decode() + " 2000", "%b %d %H:%M:%S %Y") + datetime.timedelta(minutes=1)
    out = []
    for i in range(13):
        when = t + datetime.timedelta(seconds=3 * i)
        what = "Accepted" if i == 12 else "Failed"
        out.append(f"{when:%b} {when.day:2d} {when:%H:%M:%S} bastion01 sshd[{4100 + i}]: {what} password for deploy "
                   f"from {BURST_SOURCE} port {50100 + i} ssh2".encode())
    return out


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


def detection_keys(output):
    """scan_keys without correlation alerts (whose windows span files when files are joined)."""
    keys = Counter()
    for line in output.splitlines():
        if line.strip():
            a = json.loads(line)
            if a.get("format") != "correlation":
                keys[a["rule"]["id"] + " " + normal_event(a["event"])] += 1
    return keys


def scan_keys(output):
    return alert_keys(output, "event")


def stored_keys(output):
    return alert_keys(output, "raw")


def form_keys(output):
    """Rule id and the event's host, program and message of every alert line of `vigil scan`
    (of a correlation alert: its text, which names the group and the window's times): the same
    in BSD, RFC 5424 and JSON form of one event. A JSON event's members are its fields."""
    keys = Counter()
    for line in output.splitlines():
        if line.strip():
            a = json.loads(line)
            if a.get("format") == "correlation":
                keys[a["rule"]["id"] + " " + a["event"]] += 1
                continue
            f = a["event"] if isinstance(a["event"], dict) else a.get("fields") or {}
            keys[" ".join([a["rule"]["id"], str(f.get("host")), str(f.get("program")), str(f.get("message"))])] += 1
    return keys


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
    ap.add_argument("--only", choices=["scan", "daemon", "shippers"])
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each thread count over the OTRF split (the reproducer of issue 26: 100)")
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
    work = os.path.abspath(args.work)  # the daemons and shippers run in directories of their own
    os.makedirs(work, exist_ok=True)
    o = Oracle(os.path.abspath(args.vigil), work, corpora, args.quick, args.threads_only)
    print(f"{'path':<48} {'input':<27} {'alerts':>7}  result", flush=True)
    if args.only in (None, "scan"):
        otrf = os.path.join(work, "otrf_windows.ndjson")
        if not os.path.exists(otrf):
            subprocess.run(["bash", os.path.join(HERE, "..", "bench", "prepare_data.sh")], check=True,
                           env=dict(os.environ, VIGIL_BENCH_DIR=work, VIGIL_CORPORA=corpora),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        files = o.split(otrf, "otrf1500", 1500, 200, ".jsonl")
        if args.quick:
            files = files[:200]
        otrf_rules = ["--rules", "@bundled"] if args.bundled_rules else \
            ["--rules", os.path.join(corpora, "sigma", "rules", "windows")]
        o.scan_case(f"otrf-split({len(files)})", otrf_rules, files, repeat=args.repeat)
        for name, path in (("auth.log-split", "elastic-examples/auth.log"),
                           ("openssh-split", "loghub/OpenSSH/OpenSSH_2k.log"),
                           ("apache-split", "elastic-examples/apache_access.log")):
            src = os.path.join(corpora, path)
            if args.quick and os.path.getsize(src) > (4 << 20):
                continue
            o.scan_case(name, [], o.split(src, name, 300, 60, ".log"))
        web = o.web_payload_log()
        o.scan_case("web-payloads-split", [], o.split(web, os.path.basename(web) + "-split", 300, 200, ".log"))
        # Many small files of other kinds: SigmaHQ's regression events (one pretty-printed
        # Windows event per file) against SigmaHQ's rules, the device logs against the bundled
        # packs, and the EVTX corpus (threads only: EVTX files are not joined into one stream).
        sigma_dir = os.path.join(corpora, "sigma")
        regression = sorted(os.path.join(root, f) for root, _, names in os.walk(os.path.join(sigma_dir, "regression_data"))
                            for f in names if f.endswith(".json"))
        sigma_rules = ["--rules", "@bundled"] if args.bundled_rules else \
            [a for r in ("rules", "rules-threat-hunting", "rules-emerging-threats") for a in ("--rules", os.path.join(sigma_dir, r))]
        o.scan_case(f"sigma-regression({len(regression)})", sigma_rules, regression)
        device = sorted(os.path.join(root, f) for root, _, names in os.walk(os.path.join(corpora, "device-logs"))
                        for f in names if f.endswith(".log"))
        o.scan_case(f"device-logs({len(device)})", [], device)
        evtx = sorted(os.path.join(root, f) for root, _, names in os.walk(os.path.join(corpora, "evtx"))
                      for f in names if f.endswith(".evtx"))
        o.scan_case(f"evtx({len(evtx)})", [], evtx, joinable=False)
        if not args.threads_only:
            o.edge_case(os.path.join(corpora, "elastic-examples", "auth.log"))
    if args.only in (None, "daemon"):
        o.daemon_case("auth.log", os.path.join(corpora, "elastic-examples", "auth.log"))
        o.quiet_case()
        if not args.quick:
            o.daemon_case("web-payloads", o.web_payload_log())
            o.daemon_case("openssh", os.path.join(corpora, "loghub", "OpenSSH", "OpenSSH_2k.log"))
    if args.only in (None, "shippers"):
        with open(os.path.join(corpora, "elastic-examples", "auth.log"), "rb") as f:
            lines = [line.rstrip(b"\r\n") for line in f if line.strip()]
        if args.quick:
            lines = lines[:QUICK_SHIPPER_LINES]
        o.shipper_cases(f"auth.log({len(lines)})", lines)
    print("oracle: " + ("DIFF found" if o.failed else "every path agrees"), flush=True)
    return 1 if o.failed else 0


if __name__ == "__main__":
    sys.exit(main())
