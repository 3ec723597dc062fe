#!/usr/bin/env python3
"""Web-attack detection on whole requests: the labelled request set in tests/data/web_requests
(attacks.txt, benign.txt: combined access-log lines, a `# class: source` line before each
group) run through `vigil scan`, a line counting as alerted when any rule of any level fires.

Where web_detection_eval.py renders payload lists in four fixed placements, these requests put
the payload where real attacks do (a named parameter among ordinary ones, partially encoded; the
path; a parameter name; a header; the request line) and cover classes the payload lists lack
(scanner user agents, secret and backup probes, protocol abuse, CVE-specific requests). The
benign lines are odd but legitimate requests, so any alert on them is a false positive.

  python3 scripts/web_request_eval.py --vigil build/app/vigil
  python3 scripts/web_request_eval.py --misses /tmp/m.txt --fps /tmp/f.txt   # lines to review
  ctest -R web_request_eval     # fails under 90% of attacks alerted or over 1% of benign

Exit status: 0, or 1 when --min-detect / --max-benign is given and not met.
"""
import argparse
import collections
import json
import os
import subprocess
import sys


def read_set(path):
    """[(record_no, class, line)] for the request lines of a labelled file (record = line number)."""
    out, cls = [], "?"
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("# "):
                cls = line[2:].split(":", 1)[0].strip()
            elif line:
                out.append((n, cls, line))
    return out


def scan(vigil, rules, path):
    """{record_no: sorted rule titles} for the lines with alerts."""
    proc = subprocess.run([vigil, "scan", "--rules", rules, "--output", "jsonl", path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="surrogateescape")
    if proc.returncode not in (0, 1):
        sys.exit("vigil scan failed (%d): %s" % (proc.returncode, proc.stderr[-2000:]))
    hits = collections.defaultdict(set)
    for line in proc.stdout.split("\n"):
        if line.startswith("{"):
            a = json.loads(line)
            hits[a["source"]["record"]].add("%s [%s]" % (a["rule"]["title"], a["rule"].get("level", "?")))
    return {k: sorted(v) for k, v in hits.items()}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vigil", default=os.path.join(repo, "build/app/vigil"))
    ap.add_argument("--rules", default=os.path.join(repo, "rules/packs/web"))
    ap.add_argument("--data", default=os.path.join(repo, "tests/data/web_requests"))
    ap.add_argument("--misses", help="write attack lines no rule alerted on (class, line)")
    ap.add_argument("--fps", help="write benign lines alerted (rules, line)")
    ap.add_argument("--min-detect", type=float, help="fail when the attack share alerted is below this")
    ap.add_argument("--max-benign", type=float, help="fail when the benign share alerted is above this")
    args = ap.parse_args()

    results = {}
    for name in ("attacks", "benign"):
        path = os.path.join(args.data, name + ".txt")
        lines = read_set(path)
        hits = scan(args.vigil, args.rules, path)
        per = collections.OrderedDict()
        for rec, cls, line in lines:
            c = per.setdefault(cls, [0, 0])
            c[0] += 1
            c[1] += rec in hits
        results[name] = (lines, hits, per)

    def pct(a, b):
        return 100.0 * a / b if b else 0.0

    for name, title in (("attacks", "attacks alerted"), ("benign", "benign alerted (false positives)")):
        lines, hits, per = results[name]
        print("%s, per class:" % title)
        for cls, (n, k) in per.items():
            print("  %-28s %4d / %4d  %5.1f%%" % (cls, k, n, pct(k, n)))
        tot = sum(n for n, _ in per.values())
        got = sum(k for _, k in per.values())
        print("  %-28s %4d / %4d  %5.1f%%\n" % ("all", got, tot, pct(got, tot)))

    a_lines, a_hits, _ = results["attacks"]
    b_lines, b_hits, _ = results["benign"]
    detect = sum(rec in a_hits for rec, _, _ in a_lines) / max(1, len(a_lines))
    benign = sum(rec in b_hits for rec, _, _ in b_lines) / max(1, len(b_lines))
    if args.misses:
        with open(args.misses, "w", encoding="utf-8", errors="surrogateescape") as f:
            for rec, cls, line in a_lines:
                if rec not in a_hits:
                    f.write("%s\t%s\n" % (cls, line))
    if args.fps:
        with open(args.fps, "w", encoding="utf-8", errors="surrogateescape") as f:
            for rec, cls, line in b_lines:
                if rec in b_hits:
                    f.write("%s\t%s\t%s\n" % (cls, "; ".join(b_hits[rec]), line))
    ok = True
    if args.min_detect is not None and detect < args.min_detect:
        print("FAIL: %.1f%% of attacks alerted, under %.1f%%" % (100 * detect, 100 * args.min_detect))
        ok = False
    if args.max_benign is not None and benign > args.max_benign:
        print("FAIL: %.2f%% of benign requests alerted, over %.2f%%" % (100 * benign, 100 * args.max_benign))
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
