#!/usr/bin/env python3
"""Compares hat-culane-eval --per-image output with the official evaluator's.

  culane_compare.py MINE.jsonl OFFICIAL.txt

OFFICIAL.txt is what bench/culane_official_driver.cpp prints: one line per
image, `IMAGE TP FP FN | MATCH... | IOU...` (the official Counter's
per-image outcome and every pair's LaneCompare IoU, %.17g). Compares the
counts, the matched prediction of every GT lane and every IoU exactly (NaN
equals NaN, JSON null stands for NaN). Exits 1 and lists the first
differences.
"""
import json
import math
import sys


def same_iou(a, b):
    if a is None or math.isnan(a):
        return b is None or math.isnan(b)
    return a == b


def main():
    mine = {}
    with open(sys.argv[1]) as f:
        for line in f:
            row = json.loads(line)
            mine[row["image"]] = row
    official = {}
    with open(sys.argv[2]) as f:
        for line in f:
            if not line.strip():
                continue
            head, matches, ious = line.split("|")
            name, tp, fp, fn = head.split()
            official[name] = dict(
                counts=(int(tp), int(fp), int(fn)),
                gt_match=[int(v) for v in matches.split()],
                iou=[float(v) for v in ious.split()])
    differ = []
    pairs = 0
    for name, theirs in official.items():
        row = mine.get(name)
        if row is None:
            differ.append("%s: missing from %s" % (name, sys.argv[1]))
            continue
        if (row["tp"], row["fp"], row["fn"]) != theirs["counts"]:
            differ.append("%s: counts %s, official %s" % (
                name, (row["tp"], row["fp"], row["fn"]), theirs["counts"]))
        if row["gt_match"] != theirs["gt_match"]:
            differ.append("%s: gt_match %s, official %s" % (
                name, row["gt_match"], theirs["gt_match"]))
        flat = [v for r in row["iou"] for v in r]
        pairs += len(theirs["iou"])
        if len(flat) != len(theirs["iou"]) or not all(
                same_iou(a, b) for a, b in zip(flat, theirs["iou"])):
            differ.append("%s: IoUs %s, official %s" % (name, flat,
                                                         theirs["iou"]))
    extra = [name for name in mine if name not in official]
    totals = [sum(v["counts"][k] for v in official.values())
              for k in range(3)]
    lanes = sum(len(v["gt_match"]) for v in official.values())
    print("images %d, GT lanes %d, lane pairs %d; official tp %d fp %d fn %d"
          % (len(official), lanes, pairs, *totals))
    for problem in differ[:20]:
        print("differs: " + problem)
    if differ or extra:
        print("%d difference(s), %d image(s) not in the official output"
              % (len(differ), len(extra)))
        return 1
    print("identical: counts, matches and every IoU of every image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
