#!/usr/bin/env python3
"""False-positive check: run `vigil scan` with every rule pack over the benign real logs in the
corpora and list each alert at medium or above, per rule, with the lines that raised it.

Benign sets (none is labelled; they are real logs of ordinary operation):
  * elastic-examples: apache_access.log, auth.log
  * loghub: the 2,000-line sample of each of its 16 systems
  * device-logs: the test logs of the Beats modules (Cisco, FortiGate, PAN-OS, Check Point,
    SonicWall, Sophos, F5, auditd, web and database servers). These are parser fixtures, some of
    which deliberately hold security events (IPS hits, login failures): their alerts are
    reviewed one by one rather than counted as false positives.

Usage: scripts/benign_fp_check.py [--vigil build/app/vigil] [--corpora ../shared/corpora]
       [--rules PATH ...] [--json OUT] [--max-lines 3]
Exit code 0; the figures are for review (see the per-rule listing).
"""
import argparse
import collections
import json
import os
import subprocess
import sys

LEVELS = ["informational", "low", "medium", "high", "critical"]


def benign_files(corpora):
    sets = []
    ee = os.path.join(corpora, "elastic-examples")
    for name in ("apache_access.log", "auth.log"):
        p = os.path.join(ee, name)
        if os.path.isfile(p):
            sets.append(("elastic-examples", p))
    lh = os.path.join(corpora, "loghub")
    if os.path.isdir(lh):
        for system in sorted(os.listdir(lh)):
            p = os.path.join(lh, system, system + "_2k.log")
            if os.path.isfile(p):
                sets.append(("loghub", p))
    dl = os.path.join(corpora, "device-logs", "beats")
    for root, _, files in sorted(os.walk(dl)):
        for f in sorted(files):
            if f.endswith(".log") and os.sep + "test" in root:
                sets.append(("device-logs", os.path.join(root, f)))
    return sets


def count_lines(path):
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def scan(vigil, path, rules):
    cmd = [vigil, "scan", "--no-summary", "--min-level", "medium"]
    for r in rules:
        cmd += ["--rules", r]
    cmd.append(path)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if out.returncode not in (0, 1):
        sys.stderr.write(out.stderr.decode(errors="replace"))
        raise SystemExit(f"vigil scan failed on {path} (exit {out.returncode})")
    alerts = []
    for line in out.stdout.decode(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            alerts.append(json.loads(line))
    return alerts


def alert_text(a):
    ev = a.get("event")
    if isinstance(ev, str):
        return ev
    if isinstance(ev, dict):
        for key in ("raw", "message"):
            if isinstance(ev.get(key), str):
                return ev[key]
    return json.dumps(a.get("fields") or a.get("correlation") or {})[:300]


def alert_record(a):
    """The input record an alert came from, or None for a correlation (many records)."""
    src = a.get("source")
    if isinstance(src, dict) and "record" in src:
        return src["record"]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--vigil", default=os.path.join(here, "..", "build", "app", "vigil"))
    ap.add_argument("--corpora", default=os.environ.get("VIGIL_CORPORA", os.path.join(here, "..", "..", "shared", "corpora")))
    ap.add_argument("--rules", action="append", default=[], help="rule paths (default: the bundled packs)")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    ap.add_argument("--max-lines", type=int, default=3, help="example lines shown per rule and file")
    args = ap.parse_args()

    per_set = collections.OrderedDict()
    per_rule = collections.defaultdict(lambda: {"title": "", "level": "", "alerts": 0, "files": collections.Counter(), "examples": []})
    for group, path in benign_files(args.corpora):
        lines = count_lines(path)
        alerts = scan(args.vigil, path, args.rules)
        alerted_lines = set()
        for a in alerts:
            rule = a.get("rule") or {}
            rid = rule.get("id", "?")
            r = per_rule[rid]
            r["title"], r["level"] = rule.get("title", ""), rule.get("level", "")
            r["alerts"] += 1
            rel = os.path.relpath(path, args.corpora)
            r["files"][rel] += 1
            text = alert_text(a)
            record = alert_record(a)
            if record is None:
                text = "(correlation) " + text
            else:
                alerted_lines.add(record)
            if sum(1 for e in r["examples"] if e[0] == rel) < args.max_lines:
                r["examples"].append((rel, text[:240]))
        s = per_set.setdefault(group, {"files": 0, "lines": 0, "alerted_lines": 0, "alerts": 0})
        s["files"] += 1
        s["lines"] += lines
        s["alerted_lines"] += len(alerted_lines)
        s["alerts"] += len(alerts)
        print(f"{os.path.relpath(path, args.corpora)}: {lines} lines, {len(alerts)} medium+ alerts, "
              f"{len(alerted_lines)} lines alerted ({100.0 * len(alerted_lines) / max(lines, 1):.2f}%)")

    print("\nby set:")
    for group, s in per_set.items():
        print(f"  {group:18} {s['files']:3} files {s['lines']:7} lines  {s['alerted_lines']:6} alerted at medium+ "
              f"({100.0 * s['alerted_lines'] / max(s['lines'], 1):.2f}%)  {s['alerts']} alerts")
    print("\nmedium+ alerts by rule:")
    for rid, r in sorted(per_rule.items(), key=lambda kv: -kv[1]["alerts"]):
        print(f"- [{r['level']}] {r['title']} ({rid}): {r['alerts']} alerts")
        for f, n in r["files"].most_common():
            print(f"    {n:5}  {f}")
        for f, text in r["examples"]:
            print(f"      e.g. {text}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"sets": per_set, "rules": {k: {**v, "files": dict(v["files"])} for k, v in per_rule.items()}}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
