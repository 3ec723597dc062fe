#!/usr/bin/env python3
"""Web-attack detection measure: payload corpora rendered as access-log lines, run through
`vigil scan`, counted per source file and placement; benign access logs and benign parameter
values likewise for false positives.

Reads the corpora by path (nothing is copied into the repository):
  <corpora>/web-payloads/fuzzdb/attack/**.txt    fuzzdb payload lists (class = folder)
  <corpora>/web-payloads/libinjection/data/      sqli-*.txt, xss-*.txt (URL-encoded, one per
                                                 line); false_positives.txt is benign
  <corpora>/web-payloads/httpparams/payload_full.csv   label anom = attack, norm = benign
  <corpora>/elastic-examples/apache_access.log, loghub/Apache/Apache_2k.log, and every file
  under device-logs/ holding combined access-log lines: benign logs, scanned as they are.

Each attack payload is rendered in four placements, as a client would send it:
  query    GET /portal/search.php?q=<value>   (URL-encoded; '+' or %20 for space, chosen per
                                               payload; payloads that are already URL-encoded,
                                               as many fuzzdb lines are, are sent as written
                                               with only what a request line cannot hold encoded)
  path     GET /portal/<value>                (the same encoding, '/' kept)
  agent    the User-Agent header              (raw, escaped as Apache logs it: \\" \\\\ \\xHH)
  referer  the Referer header                 (http://portal.example/search?q=<query value>)

Split: a payload is in `test` when sha1(source file + payload) mod 10 < 3, else `train`
(deterministic, 30%). Tune rules on train; report both.

fuzzdb lists that are word lists rather than attacks (bare command names, file extensions,
event-attribute names, single shell operators, every encoding of '<', invalid file names) are
reported apart under "wordlists" and are not in the headline figure.

Exit status: 0, or 1 when --min-detect / --max-benign is given and not met, 2 when the corpora
are missing (a ctest treats 77 as skipped: --skip-code).
"""
import argparse
import collections
import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse

WORDLISTS = {
    "file-upload/alt-extensions-asp.txt", "file-upload/alt-extensions-coldfusion.txt",
    "file-upload/alt-extensions-jsp.txt", "file-upload/alt-extensions-perl.txt",
    "file-upload/alt-extensions-php.txt", "file-upload/invalid-filenames-linux.txt",
    "file-upload/invalid-filenames-microsoft.txt", "file-upload/invalid-filesystem-chars-microsoft.txt",
    "file-upload/invalid-filesystem-chars-osx.txt", "os-cmd-execution/Commands-Linux.txt",
    "os-cmd-execution/Commands-OSX.txt", "os-cmd-execution/Commands-Windows.txt",
    "os-cmd-execution/Commands-WindowsPowershell.txt", "os-cmd-execution/shell-delimiters.txt",
    "os-cmd-execution/shell-operators.txt", "xss/all-encodings-of-lt.txt",
    "xss/default-javascript-event-attributes.txt", "xss/html-event-attributes.txt",
}
PLACEMENTS = ("query", "path", "agent", "referer")
BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
TIME = "[07/Dec/2026:10:00:00 +0700]"
PCT = re.compile(r"%[0-9a-fA-F]{2}|%u[0-9a-fA-F]{4}")
# fuzzdb template placeholders, filled with fixed stand-ins.
FILL = {"{cmd}": "cat /etc/passwd", "{PHPSCRIPT}": "shell", "{ASPSCRIPT}": "shell",
        "XXpathXX": "http://198.51.100.7/x.txt?"}


def split_of(source, payload):
    h = hashlib.sha1((source + "\0" + payload).encode("utf-8", "surrogateescape")).digest()
    return "test" if h[0] % 10 < 3 else "train"


def load_attacks(root):
    """[(source, payload)] deduplicated per source, in file order."""
    out = []
    fz = os.path.join(root, "web-payloads/fuzzdb/attack")
    for dirpath, _, files in sorted(os.walk(fz)):
        for name in sorted(files):
            if not name.endswith(".txt"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, fz)
            seen = set()
            # The JHADDIX XSS list is a document: name, "Exploit String: ...", description, tags.
            doc = name.endswith(".doc.txt")
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                for line in f:
                    p = line.rstrip("\r\n")
                    if doc:
                        if not p.startswith("Exploit String: "):
                            continue
                        p = p[len("Exploit String: "):]
                    if not p.strip():
                        continue
                    for k, v in FILL.items():
                        p = p.replace(k, v)
                    if p not in seen:
                        seen.add(p)
                        out.append(("fuzzdb/" + rel, p))
    li = os.path.join(root, "web-payloads/libinjection/data")
    for name in sorted(os.listdir(li)):
        if not (name.startswith("sqli-") or name.startswith("xss-")):
            continue
        seen = set()
        with open(os.path.join(li, name), encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                line = line.rstrip("\r\n")
                if not line or line.startswith("#"):
                    continue
                p = urllib.parse.unquote_plus(line, errors="surrogateescape")
                if p not in seen:
                    seen.add(p)
                    out.append(("libinjection/" + name, p))
    seen = collections.defaultdict(set)
    with open(os.path.join(root, "web-payloads/httpparams/payload_full.csv"), encoding="utf-8", errors="surrogateescape") as f:
        for row in csv.DictReader(f):
            if row["label"] != "anom":
                continue
            src = "httpparams/" + row["attack_type"]
            if row["payload"] not in seen[src]:
                seen[src].add(row["payload"])
                out.append((src, row["payload"]))
    return out


def load_benign_values(root):
    out = []
    seen = set()
    with open(os.path.join(root, "web-payloads/httpparams/payload_full.csv"), encoding="utf-8", errors="surrogateescape") as f:
        for row in csv.DictReader(f):
            if row["label"] == "norm" and row["payload"] not in seen:
                seen.add(row["payload"])
                out.append(("httpparams/norm", row["payload"]))
    with open(os.path.join(root, "web-payloads/libinjection/data/false_positives.txt"), encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line and not line.startswith("#"):
                out.append(("libinjection/false_positives.txt", urllib.parse.unquote_plus(line, errors="surrogateescape")))
    return out


def encode(payload, keep_slash, plus):
    """As a client puts a value into a request line."""
    b = payload.encode("utf-8", "surrogateescape")
    if PCT.search(payload):
        # Already URL-encoded (fuzzdb writes many payloads so): sent as written, only what a
        # request line cannot hold is encoded.
        return "".join(chr(c) if 0x21 <= c < 0x7F and c not in (0x22, 0x23) else "%%%02X" % c for c in b)
    safe = "/" if keep_slash else ""
    if plus:
        return urllib.parse.quote_plus(b, safe=safe)
    return urllib.parse.quote(b, safe=safe)


def apache_escape(payload):
    out = []
    for c in payload.encode("utf-8", "surrogateescape"):
        if c == 0x22:
            out.append('\\"')
        elif c == 0x5C:
            out.append("\\\\")
        elif c < 0x20 or c >= 0x7F:
            out.append("\\x%02x" % c)
        else:
            out.append(chr(c))
    return "".join(out)


def render(payload, placement, n):
    plus = hashlib.md5(payload.encode("utf-8", "surrogateescape")).digest()[0] & 1 == 1
    target, ua, ref = "/portal/index.php?page=home", BROWSER_UA, "-"
    if placement == "query":
        target = "/portal/search.php?lang=vi&q=" + encode(payload, False, plus)
    elif placement == "path":
        target = "/portal/" + encode(payload, True, False)
    elif placement == "agent":
        ua = apache_escape(payload)
    elif placement == "referer":
        ref = "http://portal.example.gov.vn/search?q=" + encode(payload, False, plus)
    ip = "203.0.113.%d" % (n % 250 + 1)
    return '%s - - %s "GET %s HTTP/1.1" 200 1234 "%s" "%s"' % (ip, TIME, target, ref, ua)


def benign_logs(root):
    files = [os.path.join(root, "elastic-examples/apache_access.log"), os.path.join(root, "loghub/Apache/Apache_2k.log")]
    access = re.compile(r'\] "(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH|PROPFIND|CONNECT|TRACE) ')
    for dirpath, _, names in sorted(os.walk(os.path.join(root, "device-logs"))):
        for name in sorted(names):
            if not (name.endswith(".log") or name.endswith(".txt")):
                continue
            p = os.path.join(dirpath, name)
            try:
                with open(p, encoding="utf-8", errors="surrogateescape") as f:
                    if any(access.search(l) for l in f):
                        files.append(p)
            except OSError:
                pass
    return files


def scan(vigil, rules, path):
    """{record_no: max level} for the lines with alerts; plus rule counts."""
    levels = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
    hits, per_rule = {}, collections.Counter()
    proc = subprocess.run([vigil, "scan", "--rules", rules, "--output", "jsonl", path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="surrogateescape")
    if proc.returncode not in (0, 1):
        sys.exit("vigil scan failed (%d): %s" % (proc.returncode, proc.stderr[-2000:]))
    for line in proc.stdout.split("\n"):
        if not line.startswith("{"):
            continue
        a = json.loads(line)
        rec = a["source"]["record"]
        lv = levels.get(a["rule"].get("level", "low"), 1)
        hits[rec] = max(hits.get(rec, -1), lv)
        per_rule[(a["rule"]["title"], rec)] = 1
    counts = collections.Counter(t for (t, _) in per_rule)
    return hits, counts


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vigil", default=os.path.join(repo, "build/app/vigil"))
    ap.add_argument("--rules", default=os.path.join(repo, "rules/packs/web"))
    ap.add_argument("--corpora", default=os.environ.get("VIGIL_CORPORA", os.path.join(repo, "../shared/corpora")))
    ap.add_argument("--placements", default=",".join(PLACEMENTS))
    ap.add_argument("--min-detect", type=float, help="fail when the headline detection (all splits) is below (0..1)")
    ap.add_argument("--max-benign", type=float, help="fail when benign lines alerted at medium+ exceed (0..1)")
    ap.add_argument("--skip-code", type=int, default=2, help="exit status when the corpora are missing")
    ap.add_argument("--misses", help="write missed payloads (source, placement, split, payload) to this TSV")
    ap.add_argument("--fps", help="write benign lines alerted (level, rules, line) to this file")
    ap.add_argument("--json", help="write the figures as JSON here")
    args = ap.parse_args()
    if not os.path.isfile(os.path.join(args.corpora, "web-payloads/httpparams/payload_full.csv")):
        print("web_detection_eval: corpora not found at %s; skipped" % args.corpora)
        return args.skip_code
    placements = [p for p in args.placements.split(",") if p]

    attacks = load_attacks(args.corpora)
    tmp = tempfile.mkdtemp(prefix="vigil-webeval-")
    index = []  # per attack line: (source, placement, split, payload)
    with open(os.path.join(tmp, "attacks.log"), "w", encoding="utf-8", errors="surrogateescape") as f:
        for i, (src, p) in enumerate(attacks):
            sp = split_of(src, p)
            for pl in placements:
                f.write(render(p, pl, i) + "\n")
                index.append((src, pl, sp, p))
    hits, rule_counts = scan(args.vigil, args.rules, os.path.join(tmp, "attacks.log"))

    # table[(group, src)][placement][split] = [detected, total]
    table = collections.defaultdict(lambda: collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0])))
    misses = []
    for n, (src, pl, sp, p) in enumerate(index, start=1):
        group = "wordlists" if src.startswith("fuzzdb/") and src[len("fuzzdb/"):] in WORDLISTS else "attacks"
        cell = table[(group, src)][pl][sp]
        cell[1] += 1
        if n in hits:
            cell[0] += 1
        else:
            misses.append((src, pl, sp, p))

    def pct(a, b):
        return "%6.1f%%" % (100.0 * a / b) if b else "     -"

    figures = {"attacks": {}, "benign": {}}
    for group in ("attacks", "wordlists"):
        print("\n== %s: lines with >= 1 alert (train / test) ==" % group)
        print("%-62s" % "source" + "".join("%22s" % pl for pl in placements))
        tot = collections.defaultdict(lambda: [0, 0])
        for (g, src) in sorted(k for k in table if k[0] == group):
            row = "%-62s" % src[:62]
            for pl in placements:
                tr, te = table[(g, src)][pl]["train"], table[(g, src)][pl]["test"]
                row += "  %s/%s" % (pct(*tr), pct(*te)) + " " * 4
                for sp, c in (("train", tr), ("test", te)):
                    for key in ((pl, sp), ("all", sp), (pl, "all"), ("all", "all")):
                        tot[key][0] += c[0]
                        tot[key][1] += c[1]
            print(row)
        for sp in ("train", "test", "all"):
            row = "%-62s" % ("TOTAL " + sp)
            for pl in placements:
                row += "%22s" % ("%d/%d %s" % (tot[(pl, sp)][0], tot[(pl, sp)][1], pct(*tot[(pl, sp)]).strip()))
            row += "   overall %d/%d %s" % (tot[("all", sp)][0], tot[("all", sp)][1], pct(*tot[("all", sp)]).strip())
            print(row)
        figures[group] = {"%s/%s" % k: v for k, v in tot.items()}

    # Benign: access logs as they are, and benign values in every placement.
    print("\n== benign: lines alerted (medium+ / low) ==")
    bad = 0
    bad_total = 0
    fp_lines = []
    for path in benign_logs(args.corpora):
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            lines = [l.rstrip("\r\n") for l in f]
        h, _ = scan(args.vigil, args.rules, path)
        med = sum(1 for v in h.values() if v >= 2)
        low = sum(1 for v in h.values() if v == 1)
        print("%-70s %6d lines  medium+ %4d (%s)  low %4d" % (os.path.relpath(path, args.corpora), len(lines), med, pct(med, len(lines)).strip(), low))
        figures["benign"][os.path.relpath(path, args.corpora)] = [med, low, len(lines)]
        bad += med
        bad_total += len(lines)
        fp_lines += [(h[r], path, lines[r - 1]) for r in sorted(h) if r <= len(lines)]
    values = load_benign_values(args.corpora)
    bindex = []
    with open(os.path.join(tmp, "benign.log"), "w", encoding="utf-8", errors="surrogateescape") as f:
        for i, (src, p) in enumerate(values):
            for pl in placements:
                f.write(render(p, pl, i) + "\n")
                bindex.append((src, pl, p))
    h, benign_rules = scan(args.vigil, args.rules, os.path.join(tmp, "benign.log"))
    per = collections.defaultdict(lambda: [0, 0, 0])
    for n, (src, pl, p) in enumerate(bindex, start=1):
        c = per[(src, pl)]
        c[2] += 1
        if n in h:
            c[0 if h[n] >= 2 else 1] += 1
            fp_lines.append((h[n], src + ":" + pl, p))
    for (src, pl), (med, low, n) in sorted(per.items()):
        print("%-70s %6d lines  medium+ %4d (%s)  low %4d" % (src + " [" + pl + "]", n, med, pct(med, n).strip(), low))
        figures["benign"][src + "/" + pl] = [med, low, n]
        bad += med
        bad_total += n
    print("benign TOTAL: %d of %d lines alerted at medium+ (%s)" % (bad, bad_total, pct(bad, bad_total).strip()))
    if benign_rules:
        print("benign-value alerts by rule: " + ", ".join("%s=%d" % kv for kv in benign_rules.most_common(12)))

    head = figures["attacks"].get("all/all", [0, 1])
    detect = head[0] / head[1] if head[1] else 0.0
    benign_rate = bad / bad_total if bad_total else 0.0
    print("\nHEADLINE detection %.2f%% (%d/%d; train %s, test %s), benign medium+ %.3f%%" % (
        100 * detect, head[0], head[1], pct(*figures["attacks"].get("all/train", [0, 0])).strip(),
        pct(*figures["attacks"].get("all/test", [0, 0])).strip(), 100 * benign_rate))
    print("attack alerts by rule: " + ", ".join("%s=%d" % kv for kv in rule_counts.most_common(40)))
    if args.misses:
        with open(args.misses, "w", encoding="utf-8", errors="surrogateescape") as f:
            for m in misses:
                f.write("\t".join(m[:3]) + "\t" + m[3].replace("\t", "\\t") + "\n")
    if args.fps:
        with open(args.fps, "w", encoding="utf-8", errors="surrogateescape") as f:
            for lv, where, line in sorted(fp_lines, key=lambda x: -x[0]):
                f.write("%d\t%s\t%s\n" % (lv, where, line))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"detection": detect, "benign_medium_plus": benign_rate, "figures": figures}, f, indent=1)
    ok = True
    if args.min_detect is not None and detect < args.min_detect:
        print("FAIL: detection %.4f < %.4f" % (detect, args.min_detect))
        ok = False
    if args.max_benign is not None and benign_rate > args.max_benign:
        print("FAIL: benign medium+ %.4f > %.4f" % (benign_rate, args.max_benign))
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
