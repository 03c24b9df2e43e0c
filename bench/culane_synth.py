#!/usr/bin/env python3
"""Synthetic CULane-layout data for hat-culane-eval (bench and cross-check).

Writes OUT/gt/<image>.lines.txt, OUT/pred/<image>.lines.txt, OUT/list.txt
and the nine split lists OUT/test_split/test<i>_<name>.txt (each image in
one category), in CULane's layout (list paths start with '/').

  --mode realistic    GT lanes of 30 points (every 10 rows, as CULane's
                      annotations), predictions of 18 points (every 20 rows,
                      as SCNN's), shifted by a few pixels, some missed, some
                      spurious: for timing.
  --mode adversarial  what the official evaluator must get right: shifts
                      around the IoU threshold, near-tied IoUs, duplicate
                      predictions, 2-point lanes, 1-point and empty lanes,
                      points far outside the image, images without GT or
                      without predictions, missing prediction files,
                      neighbour GT lanes, duplicate predictions, repeated
                      points (zero-length spline segments).

Plain Python (no numpy) so any python3 runs it; deterministic per --seed.
"""
import argparse
import os
import random

CATEGORIES = ["normal", "crowd", "hlight", "shadow", "noline", "arrow",
              "curve", "cross", "night"]
WIDTH, HEIGHT = 1640, 590


def lane_points(rng, x_bottom, slope, bend, y_top, step, shift=0.0,
                jitter=0.0):
    points = []
    y = HEIGHT
    while y >= y_top:
        t = (HEIGHT - y) / float(HEIGHT)
        x = x_bottom + shift + slope * (HEIGHT - y) + bend * t * t * 300
        x += rng.gauss(0, jitter) if jitter else 0.0
        points.append((x, float(y)))
        y -= step
    return points


def random_lane(rng, step):
    x_bottom = rng.uniform(-300, WIDTH + 300)
    slope = (800 - x_bottom) / float(HEIGHT - 250) * rng.uniform(0.8, 1.1)
    return dict(x_bottom=x_bottom, slope=slope, bend=rng.uniform(-1, 1),
                y_top=rng.choice([250, 270, 300, 350, 400]))


def fmt(points, rng, mode):
    if mode == "adversarial" and rng.random() < 0.2:
        # Integers as some writers print them, and a trailing space as
        # CULane's own files have.
        return " ".join("%d %d" % (round(x), round(y)) for x, y in points) + " "
    return " ".join("%.4f %.4f" % p for p in points)


def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for line in lines:
            f.write(line + "\n")


def realistic_image(rng):
    gt, pred = [], []
    for _ in range(4):
        lane = random_lane(rng, 10)
        gt.append(lane_points(rng, lane["x_bottom"], lane["slope"],
                              lane["bend"], lane["y_top"], 10))
        if rng.random() < 0.9:
            pred.append(lane_points(rng, lane["x_bottom"], lane["slope"],
                                    lane["bend"], lane["y_top"] + 20, 20,
                                    shift=rng.gauss(0, 8), jitter=2.0))
    while len(pred) < 4:
        lane = random_lane(rng, 20)
        pred.append(lane_points(rng, lane["x_bottom"], lane["slope"],
                                lane["bend"], lane["y_top"], 20))
    return gt, pred


def adversarial_image(rng):
    gt_lanes, pred_lanes = [], []
    for _ in range(rng.choice([0, 1, 2, 3, 4, 4, 5, 6])):
        lane = random_lane(rng, 10)
        step = rng.choice([10, 10, 20, 40])
        gt_lanes.append(lane_points(rng, lane["x_bottom"], lane["slope"],
                                    lane["bend"], lane["y_top"], step))
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            # Shifts of 10..30 px put the IoU of 30-px lanes near 0.5.
            shift = rng.choice([rng.gauss(0, 4), rng.uniform(-35, 35)])
            points = lane_points(rng, lane["x_bottom"], lane["slope"],
                                 lane["bend"], lane["y_top"] +
                                 rng.choice([0, 20, 60]),
                                 rng.choice([10, 20, 30]), shift=shift,
                                 jitter=rng.choice([0.0, 0.5, 3.0]))
            if rng.random() < 0.1:
                points = [points[0], points[-1]]  # a straight 2-point lane
            pred_lanes.append(points)
    for _ in range(rng.choice([0, 0, 1, 2])):
        lane = random_lane(rng, 20)
        pred_lanes.append(lane_points(rng, lane["x_bottom"], lane["slope"],
                                      lane["bend"], lane["y_top"], 20))
    if gt_lanes and rng.random() < 0.1:
        # A neighbour lane 15-25 px away: a prediction between the two has
        # nearly equal IoUs with both.
        base = rng.choice(gt_lanes)
        offset = rng.uniform(15, 25)
        gt_lanes.append([(x + offset, y) for x, y in base])
    if pred_lanes and rng.random() < 0.1:
        pred_lanes.append(list(rng.choice(pred_lanes)))  # an exact duplicate
    if pred_lanes and rng.random() < 0.05:
        # A repeated point: a zero-length spline segment, NaN samples in the
        # official spline (it draws them at INT_MIN).
        lane = rng.choice(pred_lanes)
        if len(lane) > 2:
            k = rng.randrange(len(lane))
            lane.insert(k, lane[k])
    rng.shuffle(pred_lanes)
    gt = [fmt(p, rng, "adversarial") for p in gt_lanes]
    pred = [fmt(p, rng, "adversarial") for p in pred_lanes]
    # Degenerate lanes: one point, no point (a blank line); far outside.
    if rng.random() < 0.05:
        pred.insert(rng.randrange(len(pred) + 1), "%.2f %.2f" % (
            rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT)))
    if rng.random() < 0.03:
        gt.insert(rng.randrange(len(gt) + 1), "%.2f %.2f" % (
            rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT)))
    if rng.random() < 0.03:
        pred.insert(rng.randrange(len(pred) + 1), "")
    if rng.random() < 0.05:
        pred.append("%.1f 500 %.1f 100" % (rng.uniform(-5000, -2000),
                                            rng.uniform(3000, 9000)))
    return gt, pred


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=["realistic", "adversarial"],
                        default="realistic")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    names, split = [], {c: [] for c in CATEGORIES}
    for i in range(args.images):
        name = "/driver_%d_30frame/%05d.MP4/%05d.jpg" % (i % 7, i // 100, i)
        names.append(name)
        split[CATEGORIES[rng.randrange(len(CATEGORIES))]].append(name)
        stem = name[1:-len(".jpg")] + ".lines.txt"
        if args.mode == "realistic":
            gt, pred = realistic_image(rng)
            gt = [fmt(p, rng, "realistic") for p in gt]
            pred = [fmt(p, rng, "realistic") for p in pred]
        else:
            gt, pred = adversarial_image(rng)
        write(os.path.join(args.out, "gt", stem), gt)
        if args.mode == "realistic" or rng.random() > 0.02:
            write(os.path.join(args.out, "pred", stem), pred)
    write(os.path.join(args.out, "list.txt"), names)
    for k, category in enumerate(CATEGORIES):
        write(os.path.join(args.out, "test_split",
                           "test%d_%s.txt" % (k, category)), split[category])


if __name__ == "__main__":
    main()
