#!/usr/bin/env python3
"""Splits a line file into many small files, seeded: the oracle's and the thread reproducer's
"folder of logs from an incident". File i (part-00001 ...) holds the next 1..MAX lines, drawn
from a seeded generator, so the same arguments give the same files on every machine.

usage: split_lines.py INPUT OUTDIR [--files N] [--max-lines M] [--seed S] [--suffix .jsonl]
"""
import argparse
import os
import random
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("outdir")
    ap.add_argument("--files", type=int, default=1500)
    ap.add_argument("--max-lines", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--suffix", default=".jsonl")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.outdir, exist_ok=True)
    written = 0
    with open(args.input, "rb") as src:
        for i in range(1, args.files + 1):
            want = rng.randint(1, args.max_lines)
            lines = []
            for _ in range(want):
                line = src.readline()
                if not line:
                    break
                lines.append(line)
            if not lines:
                break
            with open(os.path.join(args.outdir, f"part-{i:05d}{args.suffix}"), "wb") as out:
                out.writelines(lines)
            written += 1
    print(f"split_lines: {written} files in {args.outdir}", file=sys.stderr)
    return 0 if written > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
