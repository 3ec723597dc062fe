#!/usr/bin/env python3
"""Check rules/mapping/rule_techniques.yml against the SigmaHQ corpus it annotates.

Every entry must name a rule that exists in the corpus; a rule that already carries an ATT&CK
technique tag may only be listed to override its level; technique ids must be well-formed,
current (ATT&CK v19: not an id that rules/mapping/attack_revisions.yml lists as revoked) and not
repeated; tactics are only given for rules that carry none; entries are grouped by corpus folder
and sorted by title within a group, so a reviewer finds a rule where it is expected.

Usage: python3 scripts/check_rule_techniques.py [--mapping FILE] [--sigma DIR] [--revisions FILE]
Exits 1 when any check fails; prints the counts either way.
"""

import argparse
import collections
import os
import re
import sys

import yaml

ALLOWED_KEYS = {"id", "title", "techniques", "tactics", "level", "why"}
LEVELS = {"informational", "low", "medium", "high", "critical"}
TACTICS = {
    "reconnaissance", "resource-development", "initial-access", "execution", "persistence",
    "privilege-escalation", "defense-evasion", "stealth", "defense-impairment",
    "credential-access", "discovery", "lateral-movement", "collection", "command-and-control",
    "exfiltration", "impact",
}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TECHNIQUE_RE = re.compile(r"^T\d{4}(\.\d{3})?$")
TECHNIQUE_TAG_RE = re.compile(r"^attack\.t\d{4}(\.\d{3})?$")
# The SigmaHQ folders whose rules vigil loads and this mapping may annotate.
CORPUS_ROOTS = ("rules", "rules-threat-hunting", "rules-emerging-threats")


def corpus_group(relative_path):
    """The folder an entry is grouped under: rules/windows/<category>, rules/<product>/<category>,
    rules-threat-hunting/<product>/<category>, rules-emerging-threats/<year>/<kind>."""
    parts = relative_path.split("/")
    return "/".join(parts[:3]) if len(parts) > 3 else "/".join(parts[:2])


def load_corpus(sigma_dir):
    rules = {}
    for root in CORPUS_ROOTS:
        for directory, _, files in os.walk(os.path.join(sigma_dir, root)):
            for name in files:
                if not name.endswith(".yml"):
                    continue
                path = os.path.join(directory, name)
                with open(path, encoding="utf-8") as handle:
                    for document in yaml.safe_load_all(handle):
                        if isinstance(document, dict) and "id" in document:
                            rules[str(document["id"])] = (os.path.relpath(path, sigma_dir), document)
    return rules


def load_revoked(revisions_path):
    with open(revisions_path, encoding="utf-8") as handle:
        revisions = yaml.safe_load(handle)
    return {row["old"]: row["new"] for row in revisions.get("techniques", [])}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mapping", default=os.path.join(repo, "rules/mapping/rule_techniques.yml"))
    parser.add_argument("--sigma", default=os.path.join(repo, "../shared/corpora/sigma"))
    parser.add_argument("--revisions", default=os.path.join(repo, "rules/mapping/attack_revisions.yml"))
    args = parser.parse_args()

    with open(args.mapping, encoding="utf-8") as handle:
        mapping = yaml.safe_load(handle)
    corpus = load_corpus(args.sigma)
    revoked = load_revoked(args.revisions)
    errors = []

    def fail(index, rule_id, message):
        errors.append(f"entry {index} ({rule_id}): {message}")

    if not isinstance(mapping, dict) or set(mapping) != {"rules"} or not isinstance(mapping["rules"], list):
        print("FAIL: the file must hold exactly one key, `rules`, a list", file=sys.stderr)
        return 1

    seen = set()
    counts = collections.Counter()
    order = []  # (group, title) per entry, in file order
    for index, entry in enumerate(mapping["rules"], 1):
        if not isinstance(entry, dict):
            fail(index, "?", "not a mapping")
            continue
        rule_id = str(entry.get("id", ""))
        unknown = set(entry) - ALLOWED_KEYS
        if unknown:
            fail(index, rule_id, f"unknown keys {sorted(unknown)}")
        if not UUID_RE.match(rule_id):
            fail(index, rule_id, "id is not a lower-case uuid")
        if rule_id in seen:
            fail(index, rule_id, "duplicate id")
        seen.add(rule_id)
        why = entry.get("why")
        if not isinstance(why, str) or not why.strip() or "\n" in why.strip():
            fail(index, rule_id, "`why` must be one non-empty line")
        if rule_id not in corpus:
            fail(index, rule_id, "no rule with this id in the corpus")
            continue
        path, rule = corpus[rule_id]
        order.append((corpus_group(path), str(entry.get("title", "")), index))
        if entry.get("title") != rule.get("title"):
            fail(index, rule_id, f"title {entry.get('title')!r} is not the rule's {rule.get('title')!r}")
        tags = [str(tag).lower() for tag in rule.get("tags") or []]
        has_technique = any(TECHNIQUE_TAG_RE.match(tag) for tag in tags)
        has_tactic = any(tag.startswith("attack.") and tag[7:] in TACTICS for tag in tags)

        techniques = entry.get("techniques")
        level = entry.get("level")
        if techniques is None and level is None:
            fail(index, rule_id, "neither techniques nor level: the entry changes nothing")
        if has_technique and techniques is not None:
            fail(index, rule_id, "the rule already has a technique tag; only `level` may be given")
        if techniques is not None:
            if not isinstance(techniques, list):
                fail(index, rule_id, "techniques must be a list")
                techniques = []
            if len(set(techniques)) != len(techniques):
                fail(index, rule_id, "a technique is listed twice")
            for technique in techniques:
                if not isinstance(technique, str) or not TECHNIQUE_RE.match(technique):
                    fail(index, rule_id, f"malformed technique {technique!r}")
                elif technique in revoked:
                    fail(index, rule_id, f"{technique} is revoked in ATT&CK v19: use {revoked[technique]}")
                elif technique.split(".")[0] in techniques and "." in technique:
                    fail(index, rule_id, f"{technique} listed beside its parent technique")
            counts["with technique" if techniques else "no technique (why given)"] += 1
        tactics = entry.get("tactics")
        if tactics is not None:
            if has_tactic:
                fail(index, rule_id, "tactics given but the rule already has a tactic tag")
            if not isinstance(tactics, list) or not tactics:
                fail(index, rule_id, "tactics must be a non-empty list")
            else:
                for tactic in tactics:
                    if tactic not in TACTICS:
                        fail(index, rule_id, f"unknown tactic {tactic!r}")
        elif techniques and not has_tactic:
            fail(index, rule_id, "the rule has no tactic tag: give `tactics` with the techniques")
        if level is not None:
            if level not in LEVELS:
                fail(index, rule_id, f"unknown level {level!r}")
            elif level == rule.get("level"):
                fail(index, rule_id, f"level {level} is already the rule's level")
            counts[f"level override -> {level}"] += 1
            if has_technique:
                counts["listed for level only"] += 1
        counts["product " + str((rule.get("logsource") or {}).get("product", "(none)"))] += 1

    # Grouping: all entries of one folder together, titles sorted inside a folder.
    finished_groups = set()
    previous = None
    for group, title, index in order:
        if previous is None or group != previous[0]:
            if group in finished_groups:
                errors.append(f"entry {index}: folder {group} appears in two places")
            if previous is not None:
                finished_groups.add(previous[0])
        elif title.lower() < previous[1].lower():
            errors.append(f"entry {index}: {title!r} is out of title order in {group}")
        previous = (group, title)

    print(f"entries: {len(mapping['rules'])}")
    for key in sorted(counts):
        print(f"  {key}: {counts[key]}")
    if errors:
        for error in errors:
            print("FAIL: " + error, file=sys.stderr)
        print(f"{len(errors)} problem(s)", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
