#!/usr/bin/python3
"""Reference conversion of .evtx files to evtx_dump-style JSON lines, for tests (an oracle,
not product code).

It decodes with python-evtx (Debian python3-evtx: an implementation independent of vigil's),
takes each record's XML and writes it in the layout `evtx_dump -o jsonl` prints:
{"Event":{"#attributes":{"xmlns":...},"System":{...},"EventData":{"Name":value,...}}}.
vigil's own EVTX reader (core/evtx/) must give the same alerts as `vigil scan` over this output
(tests/e2e/evtx_test.cpp).

python-evtx renders a few value types differently from Windows and evtx_dump; the values are
put back in Windows' form where the text alone says what they were:
  - hex integers zero-padded to 8 or 16 digits ("0x00000000000003e7") -> "0x3e7";
  - times "2019-03-19 23:34:05.123456" -> "2019-03-19T23:34:05.123456Z".
Binary values stay base64 (python-evtx) where Windows writes hex: no Sigma rule reads them.

Usage: evtx_to_json.py OUT_DIR FILE.evtx...   writes OUT_DIR/<name>.json per input and prints
"<name> <records> <errors>" per file on stdout.
"""
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

import Evtx.Evtx as evtx

HEX_PADDED = re.compile(r"^0x([0-9a-f]{8}|[0-9a-f]{16})$")
PY_TIME = re.compile(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)?$")


def norm(text):
    m = HEX_PADDED.match(text)
    if m:
        return "0x" + (m.group(1).lstrip("0") or "0")
    m = PY_TIME.match(text)
    if m:
        frac = (m.group(3) or ".0")[1:]
        return "%sT%s.%sZ" % (m.group(1), m.group(2), (frac + "000000")[:6])
    return text


def split_tag(tag):
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def value(elem, parent_ns):
    """The JSON value of one element, evtx_dump's way."""
    ns, local = split_tag(elem.tag)
    attrs = {}
    if ns and ns != parent_ns:
        attrs["xmlns"] = ns
    for k, v in elem.attrib.items():
        if v != "":  # an empty optional substitution: Windows leaves the attribute out
            attrs[split_tag(k)[1]] = norm(v)
    children = list(elem)
    text = (elem.text or "") + "".join(c.tail or "" for c in children)
    if not children and not attrs:
        return norm(text) if text != "" else None
    obj = {}
    if attrs:
        obj["#attributes"] = attrs
    pairs = []
    if local == "EventData":
        unnamed = []
        for c in children:
            cl = split_tag(c.tag)[1]
            name = c.attrib.get("Name")
            if cl == "Data" and name:
                t = c.text or ""
                pairs.append((name, norm(t) if t != "" else None))
            elif cl == "Data":
                if not unnamed:
                    pairs.append(("Data", unnamed))
                t = c.text or ""
                unnamed.append(norm(t) if t != "" else None)
            else:
                pairs.append((cl, value(c, ns)))
        pairs = [(k, ({"#text": v} if len(v) > 1 else v[0]) if v is unnamed else v) for k, v in pairs]
    else:
        pairs = [(split_tag(c.tag)[1], value(c, ns)) for c in children]
    if text.strip() != "" and children:
        pairs.append(("#text", norm(text)))
    elif text != "" and not children:
        pairs.append(("#text", norm(text)))
    return obj, pairs


def dump(v):
    """JSON text of value(); objects keep repeated keys (as evtx_dump does) in order."""
    if isinstance(v, tuple):
        obj, pairs = v
        parts = []
        if "#attributes" in obj:
            parts.append('"#attributes":' + json.dumps(obj["#attributes"], ensure_ascii=False))
        for k, x in pairs:
            parts.append(json.dumps(k, ensure_ascii=False) + ":" + dump(x))
        return "{" + ",".join(parts) + "}"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + dump(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(dump(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


def convert(path, out):
    records = errors = 0
    with evtx.Evtx(path) as log:
        try:
            chunks = list(log.chunks())
        except Exception:  # noqa: BLE001 - damaged file header: nothing to read
            return 0, 1
        for chunk in chunks:
            try:
                it = chunk.records()
                while True:
                    try:
                        record = next(it)
                    except StopIteration:
                        break
                    try:
                        root = ET.fromstring(record.xml())
                        out.write('{"%s":%s}\n' % (split_tag(root.tag)[1], dump(value(root, ""))))
                        records += 1
                    except Exception:  # noqa: BLE001 - a record python-evtx cannot render
                        errors += 1
            except Exception:  # noqa: BLE001 - a damaged chunk: the rest of it is lost
                errors += 1
    return records, errors


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for path in sys.argv[2:]:
        name = os.path.basename(path)
        with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as out:
            records, errors = convert(path, out)
        print(name, records, errors, flush=True)


if __name__ == "__main__":
    main()
