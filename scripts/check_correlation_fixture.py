#!/usr/bin/env python3
"""Runs `vigil scan` over a fixture of events and compares the correlation alerts it raises with
the expected list: one "level | title" line per correlation alert, exactly (each expected
correlation fires once, and the near misses in the fixture fire nothing).

Usage: check_correlation_fixture.py --vigil BIN --rules DIR --events FILE --expected FILE
Exit status 0 when the multisets are equal, 1 otherwise (the differences are printed), 2 when
the scan fails.
"""
import argparse
import collections
import json
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--rules", action="append", required=True)
    ap.add_argument("--events", required=True)
    ap.add_argument("--expected", required=True)
    args = ap.parse_args()
    cmd = [args.vigil, "scan", "--no-summary"]
    for r in args.rules:
        cmd += ["--rules", r]
    proc = subprocess.run(cmd + [args.events], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        return 2
    got = collections.Counter()
    for line in proc.stdout.splitlines():
        alert = json.loads(line)
        if alert.get("format") == "correlation":
            got[f"{alert['rule']['level']} | {alert['rule']['title']}"] += 1
    with open(args.expected, encoding="utf-8") as f:
        want = collections.Counter(l.strip() for l in f if l.strip() and not l.startswith("#"))
    missing, extra = want - got, got - want
    for k, n in sorted(missing.items()):
        print(f"missing ({n}): {k}")
    for k, n in sorted(extra.items()):
        print(f"unexpected ({n}): {k}")
    print(f"{sum(got.values())} correlation alerts, {sum(want.values())} expected")
    return 0 if not missing and not extra else 1


if __name__ == "__main__":
    sys.exit(main())
