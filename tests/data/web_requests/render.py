#!/usr/bin/env python3
"""Renders the labelled web request set (attacks.txt, benign.txt) from the hand-written
specification in specs.py: one combined access-log line per request, a comment line
`# class: source-doc` before each group.

Each specification line says where the payload sits in the request, as real attack traffic
places it (not as a payload list does):
  q:NAME=VALUE      a query parameter among ordinary ones; VALUE is encoded as a client
                    would, the scheme chosen per line (fully, minimally, mixed case hex,
                    '+' for space), so rules meet partial encodings
  qr:QUERY          the query string exactly as written (already encoded by hand)
  qn:NAME           the payload is a parameter NAME (encoded minimally), value ordinary
  p:TARGET          the request target exactly as written (path and query, encoded by hand)
  pe:SEGMENT        a path segment, encoded minimally ('/' kept)
  ua:VALUE          the User-Agent header (escaped as Apache logs it)
  ref:VALUE         the Referer header, exactly as written
  m:METHOD TARGET PROTO   the whole request line as written
  post:NAME=VALUE   like q: but the method is POST
Lines are deterministic: re-running gives the same files.

  python3 tests/data/web_requests/render.py      # rewrites attacks.txt and benign.txt beside it
"""
import hashlib
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts"))
import specs  # noqa: E402
from web_detection_eval import apache_escape  # noqa: E402  (the one Apache header escaping)

UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36 Zalo/24.08",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
]
PATHS = ["/dvc/thu-tuc-hanh-chinh", "/portal/search", "/api/v1/hoso", "/index.php", "/tra-cuu/ket-qua",
         "/app/report.jsp", "/news/detail.aspx", "/dvc/nop-ho-so", "/api/v2/users", "/page.do"]
ORDINARY = ["lang=vi", "page=1", "sort=desc", "tab=2", "v=3.1.4", "utm_source=zalo", "size=20", "t=1733560000"]


def h(s, salt=""):
    return int.from_bytes(hashlib.sha1((salt + s).encode("utf-8", "surrogateescape")).digest()[:4], "big")


def enc(value, scheme):
    b = value.encode("utf-8", "surrogateescape")
    if scheme == 0:  # fully, as a browser form would
        return urllib.parse.quote_plus(b, safe="")
    if scheme == 1:  # minimally: what a request line cannot hold
        out = []
        for c in b:
            if c == 0x20:
                out.append("%20")
            elif c < 0x21 or c >= 0x7F or c in (0x22, 0x23, 0x25, 0x26, 0x2B):
                out.append("%%%02X" % c)
            else:
                out.append(chr(c))
        return "".join(out)
    if scheme == 2:  # lower-case hex, every non-alphanumeric
        return "".join(chr(c) if chr(c).isalnum() and c < 0x7F else "%%%02x" % c for c in b)
    # '+' for space, the rest minimal
    return enc(value, 1).replace("%20", "+")


def render(spec, n, salt):
    kind, _, body = spec.partition(":")
    k = h(spec, salt)
    method, proto, ua, ref, status = "GET", "HTTP/1.1", UAS[k % len(UAS)], "-", [200, 200, 200, 302, 404, 403, 500][k % 7]
    path = PATHS[(k >> 3) % len(PATHS)]
    o1, o2 = ORDINARY[(k >> 6) % len(ORDINARY)], ORDINARY[(k >> 9) % len(ORDINARY)]
    scheme = (k >> 12) % 4
    if kind in ("q", "post"):
        name, _, value = body.partition("=")
        target = "%s?%s&%s=%s&%s" % (path, o1, name, enc(value, scheme), o2) if k & 1 else "%s?%s=%s&%s" % (path, name, enc(value, scheme), o1)
        if kind == "post":
            method = "POST"
    elif kind == "qr":
        target = path + "?" + body
    elif kind == "qn":
        target = "%s?%s&%s=1" % (path, o1, enc(body, 1))
    elif kind == "p":
        target = body
    elif kind == "pe":
        target = enc(body, 1).replace("%2F", "/")
    elif kind == "ua":
        target, ua = path + "?" + o1, body
    elif kind == "ref":
        target, ref = path + "?" + o1, body
    elif kind == "m":
        method, target, proto = body.split(" ", 2) if body.count(" ") >= 2 else (body.split(" ") + ["HTTP/1.1"])[:3]
    else:
        raise SystemExit("unknown spec kind: %r" % spec)
    ip = "%d.%d.%d.%d" % (
        [203, 198, 113, 14, 42, 171][k % 6], (k >> 4) % 250 + 1, (k >> 8) % 250 + 1, (k >> 16) % 250 + 1)
    t = "[07/Dec/2026:%02d:%02d:%02d +0700]" % (8 + n // 3600 % 10, n // 60 % 60, n % 60)
    request = "%s %s %s" % (method, target, proto) if proto else "%s %s" % (method, target)
    return '%s - - %s "%s" %d %d "%s" "%s"' % (ip, t, apache_escape(request), status,
                                                 300 + k % 40000, apache_escape(ref), apache_escape(ua))


def write(path, groups, salt):
    n = 0
    seen = set()
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        for cls, doc, body in groups:
            f.write("# %s: %s\n" % (cls, doc))
            for spec in body.strip("\n").split("\n"):
                spec = spec.strip()
                if not spec or spec.startswith("//"):
                    continue
                if spec in seen:
                    raise SystemExit("duplicate spec: %r" % spec)
                seen.add(spec)
                f.write(render(spec, n, salt) + "\n")
                n += 1
    return n


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    a = write(os.path.join(here, "attacks.txt"), specs.ATTACKS, "a")
    b = write(os.path.join(here, "benign.txt"), specs.BENIGN, "b")
    print("attacks %d, benign %d" % (a, b))


if __name__ == "__main__":
    main()
