#!/usr/bin/env python3
"""Windows detection by technique, measured on OTRF's labelled captures.

Every Windows capture listed in <corpora>/otrf/otrf_index.tsv is unpacked once (JSON lines,
`__MACOSX` entries skipped, CR removed) into a cache directory, one file per capture, and all of
them are scanned with one `vigil scan` over the rule paths given. Per capture it reports whether
an alert carries the capture's technique, and over all captures the alerts per 10,000 events
by level that do not carry it (the noise an analyst would read beside the attack).

An alert carries a technique when the alert's ATT&CK techniques (its `attack.techniques` when
vigil gives them, else the rule's `attack.tNNNN` tags) hold the label, its parent technique, or
one of its sub-techniques. Ids are compared after ATT&CK's revocations (v19: T1562.002 is
T1685.001, T1070.001 is T1685.005, ...), read from rules/mapping/attack_revisions.yml, so a
rule tagged with either revision of a technique counts. Sibling sub-techniques do not count
(an LSASS dump is not a SAM dump); `base` in the report counts them too, for information.

Captures labelled with no technique or with T0000 are listed but not in the headline figure.

With --deepbluecli DIR (the DeepBlueCLI attack samples, .evtx read by vigil itself) the same is
reported per file: DeepBlueCLI does not label its samples by technique, so each file's
technique below is ours, read from the file's name and DeepBlueCLI's description of it.

Exit status: 0; 1 when --min-hit is given and not met; 2 on a usage or scan failure; the
--skip-code (ctest's skip) when the corpora are missing.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import tarfile
import sys
import zipfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LEVELS = ("informational", "low", "medium", "high", "critical")
TECHNIQUE = re.compile(r"^t\d{4}(\.\d{3})?$")


def load_revisions(path):
    """old id -> new id, both upper case (T1562.002 -> T1685.001), from the `techniques:` list."""
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return {e["old"].upper(): e["new"].upper() for e in doc.get("techniques", [])}


def canonical(technique, revoked):
    technique = technique.upper()
    return revoked.get(technique, technique)


def capture_members(path):
    """(name, binary file) of every member of a capture archive (.zip or .tar.gz)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for entry in sorted(z.namelist()):
                if not entry.endswith("/"):
                    with z.open(entry) as r:
                        yield entry, r
    else:
        with tarfile.open(path, "r:*") as t:
            for member in sorted(t.getmembers(), key=lambda m: m.name):
                if member.isfile():
                    yield member.name, t.extractfile(member)


def unpack(corpora, archive, cache_dir):
    """The capture's JSON lines in one file of the cache (made once)."""
    name = re.sub(r"\.(zip|tar\.gz)$", "", archive.replace("/", "__")) + ".json"
    out = os.path.join(cache_dir, name)
    if os.path.exists(out):
        return out
    tmp = out + ".tmp"
    with open(tmp, "wb") as w:
        for entry, r in capture_members(os.path.join(corpora, "otrf", archive)):
            if entry.startswith("__MACOSX/") or "/._" in entry or entry.startswith("._"):
                continue
            for raw in r:
                line = raw.rstrip(b"\r\n")
                if line.startswith(b"{"):
                    w.write(line + b"\n")
    os.replace(tmp, out)
    return out


# DeepBlueCLI sample -> the techniques its name and DeepBlueCLI's README say it shows (ours).
DEEPBLUECLI_LABELS = {
    "Powershell-Invoke-Obfuscation-encoding-menu.evtx": ["T1027", "T1059.001"],
    "Powershell-Invoke-Obfuscation-many.evtx": ["T1027", "T1059.001"],
    "Powershell-Invoke-Obfuscation-string-menu.evtx": ["T1027", "T1059.001"],
    "disablestop-eventlog.evtx": ["T1685.001"],
    "eventlog-dac.evtx": ["T1685.001"],
    "many-events-application.evtx": [],
    "metasploit-psexec-native-target-security.evtx": ["T1569.002", "T1021.002", "T1543.003"],
    "metasploit-psexec-native-target-system.evtx": ["T1569.002", "T1021.002", "T1543.003"],
    "metasploit-psexec-powershell-target-security.evtx": ["T1569.002", "T1021.002", "T1543.003"],
    "metasploit-psexec-powershell-target-system.evtx": ["T1569.002", "T1021.002", "T1543.003"],
    "metasploit-psexec-pwshpayload.evtx": ["T1569.002", "T1021.002", "T1543.003", "T1059.001"],
    "metasploit-sysmon.evtx": ["T1059", "T1055", "T1569.002"],
    "mimikatz-privesc-hashdump.evtx": ["T1003", "T1134"],
    "mimikatz-privilegedebug-tokenelevate-hashdump.evtx": ["T1003", "T1134"],
    "new-user-security.evtx": ["T1136", "T1098"],
    "password-spray.evtx": ["T1110"],
    "powersploit-security.evtx": ["T1059.001"],
    "powersploit-system.evtx": ["T1059.001", "T1543.003"],
    "psattack-security.evtx": ["T1059.001"],
    "sliver-security.evtx": ["T1059", "T1569.002", "T1543.003"],
    "sliver-sysmon.evtx": ["T1059", "T1055", "T1569.002"],
    "smb-password-guessing-security.evtx": ["T1110"],
    "wmi-event-filter-persistance.evtx": ["T1546.003"],
}


def alert_techniques(alert):
    attack = alert.get("attack")
    if isinstance(attack, dict) and attack.get("techniques"):
        return [t.upper() for t in attack["techniques"]]
    out = []
    for tag in alert.get("rule", {}).get("tags", []):
        if tag.lower().startswith("attack."):
            t = tag[7:].lower()
            if TECHNIQUE.match(t):
                out.append(t.upper())
    return out


def related(label, technique):
    """Same technique, or one is the parent of the other."""
    return label == technique or label.split(".")[0] == technique or technique.split(".")[0] == label


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--rules", action="append", required=True, help="rule path (repeatable)")
    ap.add_argument("--corpora", default=os.path.join(ROOT, "..", "shared", "corpora"))
    ap.add_argument("--cache-dir", default=os.environ.get("VIGIL_OTRF_DIR", "/tmp/vigil-otrf-eval"))
    ap.add_argument("--revisions", default=os.path.join(ROOT, "rules", "mapping", "attack_revisions.yml"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-hit", type=float, help="fail under this share of labelled captures hit")
    ap.add_argument("--json", help="write the per-capture results here")
    ap.add_argument("--noise-list", type=int, default=40, help="rules listed among high+ noise")
    ap.add_argument("--skip-code", type=int, default=2)
    ap.add_argument("--deepbluecli", help="also report DeepBlueCLI's .evtx samples in this folder")
    args = ap.parse_args()

    index = os.path.join(args.corpora, "otrf", "otrf_index.tsv")
    if not os.path.exists(index):
        print(f"otrf_technique_eval: no corpora at {args.corpora}", file=sys.stderr)
        return args.skip_code
    revoked = load_revisions(args.revisions) if os.path.exists(args.revisions) else {}

    os.makedirs(args.cache_dir, exist_ok=True)
    captures = []
    with open(index, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            if "/windows/" not in row["archive"]:
                continue
            label = row.get("attack_techniques", "").strip()
            labels = [canonical(t, revoked) for t in re.split(r"[;, ]+", label) if re.match(r"^T\d{4}", t)]
            path = unpack(args.corpora, row["archive"], args.cache_dir)
            captures.append({"archive": row["archive"], "title": row["title"], "labels": labels,
                             "file": os.path.realpath(path)})
    if args.deepbluecli:
        for name in sorted(os.listdir(args.deepbluecli)):
            if name.endswith(".evtx"):
                captures.append({"archive": "deepbluecli/" + name, "title": name,
                                 "labels": [canonical(t, revoked) for t in DEEPBLUECLI_LABELS.get(name, [])],
                                 "file": os.path.realpath(os.path.join(args.deepbluecli, name)),
                                 "deepbluecli": True})
    by_file = {c["file"]: c for c in captures}
    events = collections.Counter()
    for c in captures:
        if not c.get("deepbluecli"):
            with open(c["file"], "rb") as f:
                events[c["file"]] = sum(1 for _ in f)

    cmd = [args.vigil, "scan", "--threads", str(args.threads)]
    for r in args.rules:
        cmd += ["--rules", r]
    cmd += sorted(by_file)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        print(f"otrf_technique_eval: vigil scan exited {proc.returncode}", file=sys.stderr)
        return 2
    summary = proc.stderr.decode(errors="replace").strip().splitlines()

    hits = collections.defaultdict(list)       # file -> [(rule title, level, techniques)]
    for line in proc.stdout.splitlines():
        alert = json.loads(line)
        src = os.path.realpath(alert.get("source", {}).get("file", ""))
        if src not in by_file:
            continue
        techniques = [canonical(t, revoked) for t in alert_techniques(alert)]
        rule = alert["rule"]
        hits[src].append((rule.get("title", rule.get("id")), rule.get("level", ""), techniques))

    noise = collections.Counter()               # level -> alerts not carrying the label
    noise_rules = collections.Counter()         # (level, title) -> count, high and critical
    noise_captures = collections.defaultdict(set)  # (level, title) -> captures it fired in
    labelled = hit = base_hit = any_alert = 0
    results = []
    deepblue = []
    for c in captures:
        alerts = hits.get(c["file"], [])
        carried = set()
        for _, _, ts in alerts:
            carried.update(ts)
        ok = any(related(l, t) for l in c["labels"] for t in carried)
        base = any(l.split(".")[0] == t.split(".")[0] for l in c["labels"] for t in carried)
        top = collections.Counter(t for a in alerts for t in a[2])
        result = {"archive": c["archive"], "title": c["title"], "labels": c["labels"],
                  "events": events[c["file"]], "alerts": len(alerts), "hit": ok,
                  "base_hit": base, "techniques": [t for t, _ in top.most_common(8)]}
        if c.get("deepbluecli"):
            deepblue.append(result)
            continue
        for title, level, ts in alerts:
            if not any(related(l, t) for l in c["labels"] for t in ts):
                noise[level] += 1
                if level in ("high", "critical"):
                    noise_rules[(level, title)] += 1
                    noise_captures[(level, title)].add(c["title"] or c["archive"])
        real_label = c["labels"] and c["labels"] != ["T0000"]
        if real_label:
            labelled += 1
            hit += ok
            base_hit += base
        any_alert += bool(alerts)
        results.append(result)

    total_events = sum(events.values())
    for r in results:
        mark = "HIT " if r["hit"] else ("base" if r["base_hit"] else "MISS")
        if not r["labels"] or r["labels"] == ["T0000"]:
            mark = "----"
        print(f"{mark} {','.join(r['labels']) or '-':12} {r['alerts']:6d} alerts  {r['title'][:58]:58}  "
              f"[{' '.join(r['techniques'][:5])}]")
    if deepblue:
        print()
        for r in deepblue:
            mark = "----" if not r["labels"] else ("HIT " if r["hit"] else ("base" if r["base_hit"] else "MISS"))
            print(f"{mark} {','.join(r['labels']) or '-':28} {r['alerts']:6d} alerts  {r['title'][:52]:52}  "
                  f"[{' '.join(r['techniques'][:5])}]")
        dl = [r for r in deepblue if r["labels"]]
        print(f"DeepBlueCLI: {sum(1 for r in deepblue if r['alerts'])} of {len(deepblue)} files alerted; "
              f"{sum(1 for r in dl if r['hit'])} of {len(dl)} labelled files with their technique (labels ours)")
    print()
    for s in summary[-3:]:
        print(f"scan: {s}")
    print(f"captures: {len(results)} Windows, {total_events} events; with any alert: {any_alert}")
    share = hit / labelled if labelled else 0.0
    print(f"technique hit: {hit} of {labelled} technique-labelled captures ({100 * share:.1f}%); "
          f"same base technique: {base_hit} ({100 * base_hit / max(labelled, 1):.1f}%)")
    per10k = ", ".join(f"{lvl} {10000 * noise[lvl] / max(total_events, 1):.1f}" for lvl in LEVELS)
    print(f"alerts without the capture's technique per 10,000 events: {per10k}")
    if noise_rules:
        print("high+ alerts without the capture's technique, by rule:")
        for (level, title), n in noise_rules.most_common(args.noise_list):
            where = sorted(noise_captures[(level, title)])
            print(f"  {n:6d}  {level:8}  {title}  ({len(where)} captures: {'; '.join(w[:40] for w in where[:3])}"
                  f"{'; ...' if len(where) > 3 else ''})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"captures": results, "deepbluecli": deepblue, "hit": hit, "labelled": labelled,
                       "noise_per_10k": {lvl: 10000 * noise[lvl] / max(total_events, 1) for lvl in LEVELS}},
                      f, indent=1)
    if args.min_hit is not None and share < args.min_hit:
        print(f"otrf_technique_eval: {100 * share:.1f}% is under the required {100 * args.min_hit:.1f}%",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
