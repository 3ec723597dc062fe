#!/usr/bin/env python3
"""Device and server detection measure: labelled log lines written from vendor documentation,
run through `vigil scan`, counted per source.

Reads tests/data/device_recall/<source>.txt (one file per source). Each data line is

    <label><TAB><doc><TAB><log line>

where <label> is `serious` (a SOC acts on or wants to see the message: an alert at any level
counts as detected) or `benign` (ordinary operation: an alert at medium or above counts as a
false positive; low and informational alerts do not), and <doc> names the vendor document the
line follows (e.g. `asa-syslog-guide:106023`, `openssh:auth.c`, `fortios-log-ref:0100032002`).
Blank lines and lines starting with `#` are ignored. The lines are written by us from the
documentation; none is copied from another SIEM's tests.

Reported per source: recall (serious lines with any alert / serious lines) and benign medium+
rate (benign lines with a medium+ alert / benign lines); then the totals, and with --show-misses
the serious lines without an alert and the benign lines with a medium+ one.

Usage: scripts/device_recall_eval.py [--vigil build/app/vigil] [--data tests/data/device_recall]
       [--rules PATH ...] [--min-recall 0.70] [--max-benign 0.02] [--show-misses]
Exit status: 0; 1 when --min-recall / --max-benign is given and the totals miss it; 2 when the
data or the vigil binary is missing (--skip-code sets another code for that case, e.g. ctest's 77).
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

LEVELS = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def load(data_dir):
    """{source: [(label, doc, line)]} in file order."""
    sets = collections.OrderedDict()
    for name in sorted(os.listdir(data_dir)):
        if not name.endswith(".txt"):
            continue
        rows = []
        with open(os.path.join(data_dir, name), encoding="utf-8") as fh:
            for n, raw in enumerate(fh, 1):
                raw = raw.rstrip("\n")
                if not raw.strip() or raw.startswith("#"):
                    continue
                parts = raw.split("\t", 2)
                if len(parts) != 3 or parts[0] not in ("serious", "benign"):
                    raise SystemExit(f"{name}:{n}: expected '<serious|benign>\\t<doc>\\t<line>'")
                rows.append(tuple(parts))
        sets[name[:-4]] = rows
    return sets


def scan(vigil, rules, lines):
    """{record number (1-based): highest alert level} for the lines, scanned as one file."""
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False, encoding="utf-8") as tmp:
        for line in lines:
            tmp.write(line + "\n")
        path = tmp.name
    try:
        cmd = [vigil, "scan", "--no-summary"]
        for r in rules:
            cmd += ["--rules", r]
        cmd.append(path)
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if out.returncode not in (0, 1):
            sys.stderr.write(out.stderr.decode(errors="replace"))
            raise SystemExit(f"vigil scan failed with status {out.returncode}")
    finally:
        os.unlink(path)
    best = {}
    titles = collections.defaultdict(list)
    for text in out.stdout.decode(errors="replace").splitlines():
        if not text.strip():
            continue
        a = json.loads(text)
        src = a.get("source")
        if not isinstance(src, dict) or "record" not in src:
            continue  # a correlation: it spans many lines and proves none of them alone
        rec = src["record"]
        rule = a.get("rule") or {}
        lvl = LEVELS.get(rule.get("level", ""), 0)
        best[rec] = max(best.get(rec, -1), lvl)
        titles[rec].append(f"[{rule.get('level', '?')}] {rule.get('title', '?')}")
    return best, titles


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vigil", default=os.path.join(here, "..", "build", "app", "vigil"))
    ap.add_argument("--data", default=os.path.join(here, "..", "tests", "data", "device_recall"))
    ap.add_argument("--rules", action="append", default=[], help="rule paths (default: the bundled packs)")
    ap.add_argument("--min-recall", type=float, help="fail when total recall is below this (0..1)")
    ap.add_argument("--max-benign", type=float, help="fail when the benign medium+ rate is above this (0..1)")
    ap.add_argument("--show-misses", action="store_true", help="list undetected serious and alerted benign lines")
    ap.add_argument("--skip-code", type=int, default=2, help="exit status when data or vigil is missing")
    args = ap.parse_args()

    if not os.path.isdir(args.data) or not os.access(args.vigil, os.X_OK):
        sys.stderr.write(f"missing {args.data} or {args.vigil}\n")
        return args.skip_code
    sets = load(args.data)
    tot = collections.Counter()
    print(f"{'source':14} {'serious':>8} {'alerted':>8} {'recall':>7}   {'benign':>6} {'medium+':>7} {'rate':>6}")
    misses = []
    for source, rows in sets.items():
        best, titles = scan(args.vigil, args.rules, [r[2] for r in rows])
        c = collections.Counter()
        for i, (label, doc, line) in enumerate(rows, 1):
            lvl = best.get(i, -1)
            if label == "serious":
                c["serious"] += 1
                if lvl >= 0:
                    c["hit"] += 1
                else:
                    misses.append((source, "MISS", doc, line, []))
            else:
                c["benign"] += 1
                if lvl >= LEVELS["medium"]:
                    c["fp"] += 1
                    misses.append((source, "FP", doc, line, titles[i]))
        tot.update(c)
        print(f"{source:14} {c['serious']:8} {c['hit']:8} {100.0 * c['hit'] / max(c['serious'], 1):6.1f}%   "
              f"{c['benign']:6} {c['fp']:7} {100.0 * c['fp'] / max(c['benign'], 1):5.1f}%")
    recall = tot["hit"] / max(tot["serious"], 1)
    benign = tot["fp"] / max(tot["benign"], 1)
    print(f"{'total':14} {tot['serious']:8} {tot['hit']:8} {100.0 * recall:6.1f}%   "
          f"{tot['benign']:6} {tot['fp']:7} {100.0 * benign:5.1f}%")
    if args.show_misses:
        for source, kind, doc, line, t in misses:
            print(f"{kind:4} {source}: {doc}: {line}" + (f"  <- {'; '.join(t)}" if t else ""))
    ok = True
    if args.min_recall is not None and recall < args.min_recall:
        print(f"FAIL: recall {100.0 * recall:.1f}% below {100.0 * args.min_recall:.1f}%")
        ok = False
    if args.max_benign is not None and benign > args.max_benign:
        print(f"FAIL: benign medium+ {100.0 * benign:.1f}% above {100.0 * args.max_benign:.1f}%")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
