#!/usr/bin/env python3
"""Fits the Nash family's perf-model parameters to board latencies.

    build/bin/hat-perf-calibration --json /tmp/cal.json
    python3 bench/fit_perf_model.py /tmp/cal.json [--exclude mixvargenet]

The JSON holds, per model and march, every layer's raw quantities: MAC-array
or vector cycles (channel- and pixel-padded), DDR bytes after on-chip reuse
and tiles. The model (lib/BPU/EstimatePerf.cpp) is

    layer_us = max(cycles / (clock * mac_eff)    [MAC array; vector: eff 1],
                   ddr_bytes / (bandwidth * ddr_eff))
               + layer_us0 + (tiles - 1) * tile_us0          [not reshape]

with four parameters shared by every model and both marches: layer_us0,
tile_us0, mac_eff, ddr_eff. They minimise the sum of squared log errors
(relative errors) against the board latencies. Prints the fit, the residuals
and a leave-one-model-out check (fit without a model, predict it).

Peak DDR (nash-m, the only march with board figures) is

    peak = weights + activation homes + I/O + runtime_bytes

where runtime_bytes, the DDR the runtime holds per loaded model
(instructions, descriptors), is the one fitted parameter, shared by every
model; it minimises the squared log errors of the peak DDR figures, with
the same leave-one-model-out check.

Plain Python (no numpy): a coarse grid, then coordinate refinement.
"""

import argparse
import itertools
import json
import math


def layer_time(layer, run, p):
    layer_us0, tile_us0, mac_eff, ddr_eff = p
    if layer["reshape"]:
        return 0.0
    compute = layer["cycles"] / run["clock_mhz"] / (mac_eff if layer["mac_array"] else 1.0)
    memory = layer["ddr_bytes"] / (run["ddr_bytes_per_us"] * ddr_eff)
    return max(compute, memory) + layer_us0 + (layer["tiles"] - 1) * tile_us0


def estimate_ms(run, p):
    return sum(layer_time(l, run, p) for l in run["layers"]) / 1e3


def loss(runs, p):
    return sum(math.log(estimate_ms(r, p) / r["board_ms"]) ** 2 for r in runs)


BOUNDS = [(0.0, 20.0), (0.0, 5.0), (0.02, 1.0), (0.2, 1.0)]


FIXED = {}  # parameter index -> value held fixed (--fix-mac-eff)


def fit(runs):
    grids = [
        [0, 1, 2, 3, 4, 5, 6, 8, 10, 12],
        [0, 0.1, 0.25, 0.5, 1, 2],
        [0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0],
        [0.3, 0.5, 0.7, 0.85, 1.0],
    ]
    for i, v in FIXED.items():
        grids[i] = [v]
    best = min(itertools.product(*grids), key=lambda p: loss(runs, p))
    best = list(best)
    step = [1.0, 0.25, 0.05, 0.1]
    for _ in range(60):
        improved = False
        for i in range(4):
            if i in FIXED:
                continue
            for d in (-step[i], step[i]):
                q = list(best)
                q[i] = min(max(q[i] + d, BOUNDS[i][0]), BOUNDS[i][1])
                if loss(runs, q) < loss(runs, best) - 1e-12:
                    best, improved = q, True
        if not improved:
            step = [s / 2 for s in step]
    return best


def show(runs, p, title):
    print(title)
    print("  layer_us0 %.3f us, tile_us0 %.3f us, mac_eff %.3f, ddr_eff %.3f"
          % tuple(p))
    for r in runs:
        est = estimate_ms(r, p)
        print("  %-16s %-7s est %.3f ms  board %.3f ms  err %+6.1f%%"
              % (r["model"], r["march"], est, r["board_ms"],
                 100 * (est - r["board_ms"]) / r["board_ms"]))


def graph_ddr_mb(run):
    """Peak DDR without the runtime's part: what the graph determines."""
    return (run["weight_bytes"] + run["ddr_activation_bytes"]
            + run["io_bytes"]) / 1e6


def fit_runtime_mb(runs):
    """The runtime constant (MB) minimising the squared log errors: a 1 KB
    grid over 0-10 MB (the loss is convex in it)."""
    def ddr_loss(c):
        return sum(math.log((graph_ddr_mb(r) + c) / r["board_peak_ddr_mb"]) ** 2
                   for r in runs)
    return min((i / 1000 for i in range(10001)), key=ddr_loss)


def show_ddr(runs, excluded):
    ddr = [r for r in runs if r.get("board_peak_ddr_mb")]
    train = [r for r in ddr if r["model"] not in excluded]
    if not train:
        return
    c = fit_runtime_mb(train)
    print("peak DDR fit on %s: runtime_bytes %.3f MB"
          % (", ".join(sorted(r["model"] for r in train)), c))
    for r in ddr:
        est = graph_ddr_mb(r) + c
        print("  %-16s %-7s graph %.2f + runtime = %.2f MB  board %.2f MB"
              "  err %+6.1f%%" % (r["model"], r["march"], graph_ddr_mb(r), est,
                                 r["board_peak_ddr_mb"],
                                 100 * (est / r["board_peak_ddr_mb"] - 1)))
    if len(train) > 2:
        print("leave-one-model-out (peak DDR):")
        for r in train:
            q = fit_runtime_mb([o for o in train if o is not r])
            est = graph_ddr_mb(r) + q
            print("  %-16s pred %.2f MB  board %.2f MB  err %+6.1f%%"
                  "   (runtime %.3f MB)" % (r["model"], est,
                                           r["board_peak_ddr_mb"],
                                           100 * (est / r["board_peak_ddr_mb"]
                                                  - 1), q))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json")
    ap.add_argument("--exclude", default="",
                    help="comma-separated models left out of the fit")
    ap.add_argument("--fix-mac-eff", type=float, default=None,
                    help="hold mac_eff at this value (3 free parameters)")
    args = ap.parse_args()
    if args.fix_mac_eff is not None:
        FIXED[2] = args.fix_mac_eff
    runs = json.load(open(args.json))
    excluded = set(filter(None, args.exclude.split(",")))
    train = [r for r in runs if r["model"] not in excluded]
    p = fit(train)
    show(runs, p, "fit on %s (%d latencies, %d free parameters)"
         % (", ".join(sorted({r["model"] for r in train})), len(train),
            4 - len(FIXED)))
    models = sorted({r["model"] for r in train})
    if len(models) > 2:
        print("leave-one-model-out (fit without the model, predict it):")
        for m in models:
            q = fit([r for r in train if r["model"] != m])
            for r in runs:
                if r["model"] == m:
                    est = estimate_ms(r, q)
                    print("  %-16s %-7s pred %.3f ms  board %.3f ms  err %+6.1f%%"
                          "   (params %.2f, %.2f, %.3f, %.3f)"
                          % (m, r["march"], est, r["board_ms"],
                             100 * (est - r["board_ms"]) / r["board_ms"], *q))
    show_ddr(runs, excluded)


if __name__ == "__main__":
    main()
