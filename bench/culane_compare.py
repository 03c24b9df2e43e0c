#!/usr/bin/env python3
"""Compares hat-culane-eval --per-image output with the official evaluator's.

  culane_compare.py MINE.jsonl OFFICIAL.txt

OFFICIAL.txt has one line per image, `image tp fp fn match...`, where match
is the official Counter::count_im_pair's anno_match (the prediction each GT
lane is a true positive with, or -1): print them with a few lines of C++
over the official sources (docs/lane.md, "Verification"). Exits 1 and lists
the images that differ.
"""
import json
import sys


def main():
    mine = {}
    with open(sys.argv[1]) as f:
        for line in f:
            row = json.loads(line)
            mine[row["image"]] = (row["tp"], row["fp"], row["fn"],
                                  tuple(row["gt_match"]))
    official = {}
    with open(sys.argv[2]) as f:
        for line in f:
            fields = line.split()
            if not fields:
                continue
            numbers = [int(v) for v in fields[1:]]
            official[fields[0]] = (numbers[0], numbers[1], numbers[2],
                                   tuple(numbers[3:]))
    differ = [name for name in official if mine.get(name) != official[name]]
    missing = [name for name in mine if name not in official]
    totals = [sum(v[k] for v in official.values()) for k in range(3)]
    lanes = sum(len(v[3]) for v in official.values())
    print("images %d, GT lanes %d, official tp %d fp %d fn %d" %
          (len(official), lanes, totals[0], totals[1], totals[2]))
    for name in differ[:20]:
        print("differs: %s mine %s official %s" % (name, mine.get(name),
                                                    official[name]))
    for name in missing[:20]:
        print("not in the official output: %s" % name)
    if differ or missing:
        print("%d image(s) differ, %d missing" % (len(differ), len(missing)))
        return 1
    print("all images identical (tp, fp, fn and the matched prediction of "
          "every GT lane)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
