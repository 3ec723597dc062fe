"""Real syslog shippers on loopback for the oracle (scripts/oracle.py): rsyslog and syslog-ng,
each started by the oracle on 127.0.0.1 and stopped by its PID.

Each shipper receives the oracle's lines on a TCP input of its own and relays every message to
two destinations with the same template and driver: `vigil run`'s collector, and a Capture (a
listener owned by the oracle). The capture is exactly what the shipper sent vigil (the same
template rendered by the same process), so the reference `vigil scan` runs over it.

rsyslog conflicts with syslog-ng-core in Debian, so it is not installed: Debian's packages
(rsyslog, rsyslog-gnutls, rsyslog-relp for omrelp, and the libraries they need: libestr0,
libfastjson4, librelp0) are
fetched with `apt-get download` and unpacked with `dpkg -x` into the oracle's work dir, cached
between runs, and run with LD_LIBRARY_PATH. Nothing is installed system-wide.
"""
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import threading


class Skip(Exception):
    """A shipper that cannot run on this machine; the message says why."""


# ---- the oracle's end: what the shipper sent ----------------------------------------------------

class Capture:
    """A TCP listener on 127.0.0.1 (a free port) that keeps each record a shipper sends it, in
    order. Framing is detected per connection as vigil's StreamFramer does (RFC 6587): a stream
    starting with a digit is octet-counted, anything else is one record per line; one trailing
    line end inside an octet-counted frame is dropped (RFC 5424 templates end with one)."""

    def __init__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self._lock = threading.Lock()
        self._records = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def records(self):
        with self._lock:
            return list(self._records)

    def count(self):
        with self._lock:
            return len(self._records)

    def close(self):
        self._closed = True
        self._sock.close()

    def _accept(self):
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        octet = None
        with conn:
            while True:
                try:
                    chunk = conn.recv(1 << 16)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                if octet is None:
                    octet = buf[:1].isdigit()
                out = []
                while True:
                    if octet:
                        sp = buf.find(b" ")
                        if sp < 0 or len(buf) < sp + 1 + int(buf[:sp]):
                            break
                        n = int(buf[:sp])
                        rec, buf = buf[sp + 1:sp + 1 + n], buf[sp + 1 + n:]
                        if rec.endswith(b"\n"):
                            rec = rec[:-1]
                    else:
                        nl = buf.find(b"\n")
                        if nl < 0:
                            break
                        rec, buf = buf[:nl].rstrip(b"\r"), buf[nl + 1:]
                    if rec:
                        out.append(rec)
                with self._lock:
                    self._records.extend(out)


# ---- processes ----------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port):
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def stop_pid(proc, deadline_s):
    """SIGTERM the process the oracle started (by its PID), SIGKILL it after the deadline."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=deadline_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


# ---- rsyslog ------------------------------------------------------------------------------------

RSYSLOG_PACKAGES = ["rsyslog", "rsyslog-gnutls", "rsyslog-relp", "libestr0", "libfastjson4", "librelp0"]


class Rsyslog:
    """rsyslogd unpacked from Debian's packages under `cache` (see the module comment)."""

    def __init__(self, cache):
        root = os.path.join(cache, "rsyslog-root")
        self.rsyslogd = os.path.join(root, "usr", "sbin", "rsyslogd")
        if not os.access(self.rsyslogd, os.X_OK) or not glob.glob(os.path.join(root, "usr", "lib", "*", "rsyslog",
                                                                                  "omrelp.so")):
            self._unpack(cache, root)  # none yet, or a cache from before omrelp was fetched
        mods = glob.glob(os.path.join(root, "usr", "lib", "*", "rsyslog", "imtcp.so"))
        if not mods:
            raise Skip(f"no rsyslog modules under {root}")
        self.moddir = os.path.dirname(mods[0])
        libdir = os.path.dirname(self.moddir)
        self.env = dict(os.environ, LD_LIBRARY_PATH=libdir + (":" + os.environ["LD_LIBRARY_PATH"]
                                                              if os.environ.get("LD_LIBRARY_PATH") else ""))
        r = subprocess.run([self.rsyslogd, "-v"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise Skip("the unpacked rsyslogd does not run: " + r.stdout.decode(errors="replace").strip()[-300:])
        self.version = r.stdout.decode().split("\n", 1)[0].split()[1]
        self.has_gtls = os.path.exists(os.path.join(self.moddir, "lmnsd_gtls.so"))
        self.has_relp = os.path.exists(os.path.join(self.moddir, "omrelp.so"))

    @staticmethod
    def _unpack(cache, root):
        if not shutil.which("apt-get") or not shutil.which("dpkg"):
            raise Skip("apt-get and dpkg are needed to fetch Debian's rsyslog (not installed: it conflicts "
                       "with syslog-ng-core), and this machine has no apt")
        pkgdir = os.path.join(cache, "rsyslog-pkg")
        shutil.rmtree(pkgdir, ignore_errors=True)
        os.makedirs(pkgdir)
        download = lambda: subprocess.run(["apt-get", "download"] + RSYSLOG_PACKAGES, cwd=pkgdir,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        r = download()
        if r.returncode != 0:  # stale package lists: refresh them once (installs nothing)
            subprocess.run(["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            r = download()
        if r.returncode != 0:
            raise Skip("`apt-get download " + " ".join(RSYSLOG_PACKAGES) + "` failed: "
                       + r.stdout.decode(errors="replace").strip().splitlines()[-1][:300])
        tmp = root + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        for deb in sorted(glob.glob(os.path.join(pkgdir, "*.deb"))):
            subprocess.run(["dpkg", "-x", deb, tmp], check=True)
        shutil.rmtree(root, ignore_errors=True)
        os.rename(tmp, root)

    def config(self, d, in_port, vigil_port, capture_port, template, transport, ca_file=None):
        """rsyslog.conf relaying imtcp (lines from the oracle, parsed as RFC 3164) to vigil with
        omfwd (`template`, transport udp | tcp | tls, octet-counted over tcp and tls) or omrelp
        (transport relp, with a retrying action queue) and to the
        capture with the same template (tcp, octet-counted)."""
        conf = os.path.join(d, "rsyslog.conf")
        g = f'global(workDirectory="{d}" maxMessageSize="64k" net.enableDNS="off"'
        if transport == "tls":
            g += f' DefaultNetstreamDriverCAFile="{ca_file}"'
        if transport == "relp":
            # omrelp resends what vigil has not acknowledged (its own window of 128); the action
            # queue keeps messages while vigil is away and retries forever, so a restarted vigil
            # gets everything.
            mods = 'module(load="imtcp")\nmodule(load="omrelp")\n'
            # Named for both actions: omrelp's default (RSYSLOG_ForwardFormat) is not omfwd's.
            tpl = f' template="{template or "RSYSLOG_ForwardFormat"}"'
            with open(conf, "w") as f:
                f.write(g + ")\n" + mods +
                        f'input(type="imtcp" address="127.0.0.1" port="{in_port}" ruleset="relay" '
                        'supportOctetCountedFraming="off")\n'
                        'ruleset(name="relay") {\n'
                        f'  action(type="omrelp" target="127.0.0.1" port="{vigil_port}"{tpl} '
                        'action.resumeRetryCount="-1" action.resumeInterval="1" queue.type="LinkedList" '
                        'queue.size="100000" queue.saveOnShutdown="on")\n'
                        f'  action(type="omfwd" target="127.0.0.1" port="{capture_port}" protocol="tcp" '
                        f'TCP_Framing="octet-counted"{tpl})\n'
                        '}\n')
            return conf
        to_vigil = {
            "udp": 'protocol="udp"',
            "tcp": 'protocol="tcp" TCP_Framing="octet-counted"',
            "tls": ('protocol="tcp" TCP_Framing="octet-counted" StreamDriver="gtls" StreamDriverMode="1" '
                    'StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost"'),
        }[transport]
        tpl = f' template="{template}"' if template else ""  # none: omfwd's default
        json_tpl = ""
        mods = 'module(load="imtcp")\n'
        if template == "vigil_json":
            # JSON as a JSON shipper sends it: the message without the space rsyslog's %msg% keeps
            # after the tag or sudo's padding (a JSON value is taken as written; the syslog
            # parsers start a message at its first character).
            json_tpl = ('template(name="vigil_json" type="list" option.jsonf="on") {\n'
                        '  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")\n'
                        '  property(outname="host" name="hostname" format="jsonf")\n'
                        '  property(outname="program" name="programname" format="jsonf")\n'
                        '  property(outname="pid" name="procid" format="jsonf")\n'
                        '  property(outname="message" name="msg" format="jsonf" regex.type="ERE"\n'
                        '           regex.expression="^ *(.*)$" regex.submatch="1")\n'
                        '}\n')
        with open(conf, "w") as f:
            f.write(g + ")\n" + mods + json_tpl +
                    f'input(type="imtcp" address="127.0.0.1" port="{in_port}" ruleset="relay" '
                    'supportOctetCountedFraming="off")\n'
                    'ruleset(name="relay") {\n'
                    f'  action(type="omfwd" target="127.0.0.1" port="{vigil_port}" {to_vigil}{tpl})\n'
                    f'  action(type="omfwd" target="127.0.0.1" port="{capture_port}" protocol="tcp" '
                    f'TCP_Framing="octet-counted"{tpl})\n'
                    '}\n')
        return conf

    def start(self, d, conf, log):
        check = subprocess.run([self.rsyslogd, "-N1", "-f", conf, "-M", self.moddir], env=self.env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if check.returncode != 0:
            raise RuntimeError("rsyslog rejects its configuration: " + check.stdout.decode(errors="replace")[-500:])
        return subprocess.Popen([self.rsyslogd, "-n", "-f", conf, "-M", self.moddir,
                                 "-i", os.path.join(d, "rsyslogd.pid")],
                                env=self.env, stdout=log, stderr=log)


# ---- syslog-ng ----------------------------------------------------------------------------------

class SyslogNg:
    """The installed syslog-ng (Debian's syslog-ng-core, scripts/install-deps.sh)."""

    def __init__(self):
        self.binary = shutil.which("syslog-ng") or ("/usr/sbin/syslog-ng" if os.access("/usr/sbin/syslog-ng", os.X_OK)
                                                    else None)
        if not self.binary:
            raise Skip("syslog-ng is not installed (scripts/install-deps.sh installs syslog-ng-core)")
        r = subprocess.run([self.binary, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # "syslog-ng 3 (3.38.1)"
        m = re.search(r"\((\d+\.\d+)[.\d]*\)", r.stdout.decode(errors="replace"))
        if not m:
            raise Skip("cannot read the version of " + self.binary + " --version")
        self.config_version = m.group(1)

    def config(self, d, in_port, vigil_port, capture_port, driver):
        """syslog-ng.conf relaying a network() TCP source (the oracle's lines, parsed as RFC 3164)
        to vigil and to the capture with the same destination driver over TCP: network() (BSD
        format, one line per message) or syslog() (RFC 5424, octet-counted)."""
        conf = os.path.join(d, "syslog-ng.conf")
        dest = lambda port: f'{driver}("127.0.0.1" port({port}) transport("tcp"))'
        with open(conf, "w") as f:
            f.write(f"@version: {self.config_version}\n"
                    "options { stats-freq(0); use-dns(no); dns-cache(no); keep-hostname(yes); mark-freq(0);"
                    " log-msg-size(65536); };\n"
                    f'source s_in {{ network(ip("127.0.0.1") port({in_port}) transport("tcp")); }};\n'
                    f"destination d_vigil {{ {dest(vigil_port)}; }};\n"
                    f"destination d_capture {{ {dest(capture_port)}; }};\n"
                    "log { source(s_in); destination(d_vigil); destination(d_capture); flags(flow-control); };\n")
        return conf

    def start(self, d, conf, log):
        check = subprocess.run([self.binary, "-s", "-f", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if check.returncode != 0:
            raise RuntimeError("syslog-ng rejects its configuration: " + check.stdout.decode(errors="replace")[-500:])
        return subprocess.Popen([self.binary, "-F", "-f", conf, "-p", os.path.join(d, "syslog-ng.pid"),
                                 "-c", os.path.join(d, "syslog-ng.ctl"), "-R", os.path.join(d, "syslog-ng.persist")],
                                stdout=log, stderr=log)


def self_signed_cert(d):
    """cert.pem / key.pem for CN=localhost (and IP 127.0.0.1), made with openssl, cached."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    if not (os.path.exists(cert) and os.path.exists(key)):
        if not shutil.which("openssl"):
            raise Skip("openssl is not installed (needed for the TLS certificate)")
        os.makedirs(d, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", key + ".tmp", "-out", cert + ".tmp"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.rename(key + ".tmp", key)
        os.rename(cert + ".tmp", cert)
    return cert, key
