#!/usr/bin/python3
"""hat-cocoeval vs pycocotools on a COCO-val-sized synthetic input.

    /usr/bin/python3 bench/cocoeval_bench.py [--hat-cocoeval build/bin/hat-cocoeval]
        [--work DIR] [--images 5000] [--objects-per-image 7.3]
        [--dets-per-image 100] [--seed 0] [--threads 0] [--repeat 3]

Writes DIR/gt.json (5,000 images, 80 categories, ~36,500 objects with COCO's
mix of small/medium/large sizes and ~1% crowds) and DIR/dets.json (500,000
detections: jittered objects, class confusions and background boxes, scores
rounded to 3 digits so ties occur), deterministic for a seed. Then times
hat-cocoeval (load + evaluate, the whole process) and, when
`import pycocotools` works, pycocotools' COCO() + loadRes + evaluate +
accumulate + summarize in this process, and prints the largest difference
between the two sets of 12 numbers.

pycocotools is not a Debian package and there is no pip here: point
PYTHONPATH at a directory that contains a built `pycocotools` package (e.g.
cocoapi's PythonAPI after `make`, or a site-packages of another Python with
the same numpy ABI). Without its C extension (`pycocotools._mask`), e.g. with
a numpy stand-in for `pycocotools.mask.iou`, the numbers are still
pycocotools' but its time is not pycocotools' true time: the script says
which one it measured.
"""
import argparse
import io
import json
import math
import os
import random
import resource
import subprocess
import sys
import time
import contextlib


def generate(work, images, objects_per_image, dets_per_image, seed):
    rng = random.Random(seed)
    num_categories = 80
    # COCO-like skew: a few categories hold most objects.
    weights = [1.0 / (k + 1) ** 0.9 for k in range(num_categories)]
    category_ids = [k + 1 + (k // 10) for k in range(num_categories)]  # gaps, as COCO's ids
    image_list, annotations, detections = [], [], []
    ann_id = 1
    for index in range(images):
        image_id = 100000 + index * 7
        width, height = rng.choice([(640, 480), (480, 640), (640, 427), (500, 375)])
        image_list.append({"id": image_id, "width": width, "height": height,
                           "file_name": "%012d.jpg" % image_id})
        count = min(60, int(rng.expovariate(1.0 / objects_per_image)))
        objects = []
        for _ in range(count):
            # log-uniform area: ~41% small, ~34% medium, ~25% large
            area = math.exp(rng.uniform(math.log(40), math.log(90000)))
            aspect = math.exp(rng.uniform(-1.0, 1.0))
            w = min(width - 1, math.sqrt(area * aspect))
            h = min(height - 1, math.sqrt(area / aspect))
            x = rng.uniform(0, width - w)
            y = rng.uniform(0, height - h)
            category = rng.choices(category_ids, weights)[0]
            crowd = 1 if rng.random() < 0.01 else 0
            box = [round(x, 2), round(y, 2), round(w, 2), round(h, 2)]
            annotations.append({"id": ann_id, "image_id": image_id, "category_id": category,
                                "bbox": box, "area": round(w * h * rng.uniform(0.55, 0.95), 2),
                                "iscrowd": crowd})
            objects.append((box, category))
            ann_id += 1
        for _ in range(dets_per_image):
            r = rng.random()
            if objects and r < 0.45:
                (x, y, w, h), category = rng.choice(objects)
                s = rng.choice([0.03, 0.08, 0.15, 0.3])
                box = [x + rng.gauss(0, s * w), y + rng.gauss(0, s * h),
                       max(1.0, w * (1 + rng.gauss(0, s))), max(1.0, h * (1 + rng.gauss(0, s)))]
                if rng.random() < 0.2:
                    category = rng.choices(category_ids, weights)[0]
                score = rng.betavariate(2, 2 + 8 * s)
            else:
                w = math.exp(rng.uniform(math.log(4), math.log(400)))
                h = math.exp(rng.uniform(math.log(4), math.log(400)))
                box = [rng.uniform(0, width - 4), rng.uniform(0, height - 4), w, h]
                category = rng.choices(category_ids, weights)[0]
                score = rng.betavariate(1, 6)
            detections.append({"image_id": image_id, "category_id": category,
                               "bbox": [round(v, 2) for v in box], "score": round(score, 3)})
    gt = {"images": image_list, "annotations": annotations,
          "categories": [{"id": c, "name": "category%d" % c} for c in category_ids]}
    with open(os.path.join(work, "gt.json"), "w") as f:
        json.dump(gt, f)
    with open(os.path.join(work, "dets.json"), "w") as f:
        json.dump(detections, f)
    return len(annotations), len(detections)


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_hat(tool, work, threads, repeat):
    """Best wall and CPU (user+sys) seconds of `repeat` runs, and the stats."""
    best_wall, best_cpu, stats = None, None, None
    for _ in range(repeat):
        cpu0, start = children_cpu(), time.perf_counter()
        out = subprocess.run([tool, os.path.join(work, "gt.json"), os.path.join(work, "dets.json"),
                              "--threads", str(threads), "--max-warnings=0"],
                             capture_output=True, text=True)
        wall, cpu = time.perf_counter() - start, children_cpu() - cpu0
        if out.returncode != 0:
            sys.exit("hat-cocoeval failed:\n" + out.stderr)
        stats = json.loads(out.stdout)["stats"]
        best_wall = wall if best_wall is None else min(best_wall, wall)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    return best_wall, best_cpu, stats


def run_pycocotools(work):
    try:
        import numpy as np
        import pycocotools
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as error:
        print("pycocotools: not importable (%s)." % error)
        print("  To compare, run with PYTHONPATH pointing at a directory that contains a built")
        print("  pycocotools package, e.g. PYTHONPATH=~/cocoapi/PythonAPI %s ..." % sys.argv[0])
        return None
    if not hasattr(np, "float"):
        np.float = float  # older cocoeval.py uses np.float, removed in numpy 1.24
    try:
        import pycocotools._mask  # noqa: F401
        kind = "pycocotools with its C extension (%s)" % os.path.dirname(pycocotools.__file__)
    except ImportError:
        kind = ("pycocotools' Python code with a NON-C pycocotools.mask (%s): its IoU is not "
                "the C extension, so this time is NOT pycocotools' true time"
                % os.path.dirname(pycocotools.__file__))
    with contextlib.redirect_stdout(io.StringIO()):
        c0, t0 = time.process_time(), time.perf_counter()
        gt = COCO(os.path.join(work, "gt.json"))
        dt = gt.loadRes(os.path.join(work, "dets.json"))
        t1 = time.perf_counter()
        E = COCOeval(gt, dt, "bbox")
        E.evaluate()
        t2 = time.perf_counter()
        E.accumulate()
        E.summarize()
        t3, c3 = time.perf_counter(), time.process_time()
    times = {"load": t1 - t0, "evaluate": t2 - t1, "accumulate+summarize": t3 - t2,
             "total": t3 - t0, "cpu": c3 - c0}
    return kind, times, [float(x) for x in E.stats]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hat-cocoeval", default=os.path.join(here, "..", "build", "bin", "hat-cocoeval"))
    parser.add_argument("--work", default="/tmp/hat-cocoeval-bench")
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--objects-per-image", type=float, default=7.3)
    parser.add_argument("--dets-per-image", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not os.access(args.hat_cocoeval, os.X_OK):
        sys.exit("no hat-cocoeval at %s (build it, or pass --hat-cocoeval)" % args.hat_cocoeval)

    os.makedirs(args.work, exist_ok=True)
    stamp = os.path.join(args.work, "params.json")
    params = {"images": args.images, "objects": args.objects_per_image,
              "dets": args.dets_per_image, "seed": args.seed, "version": 1}
    if not os.path.exists(stamp) or json.load(open(stamp)) != params:
        start = time.perf_counter()
        objects, dets = generate(args.work, args.images, args.objects_per_image,
                                 args.dets_per_image, args.seed)
        json.dump(params, open(stamp, "w"))
        print("generated %d images, %d objects, %d detections in %.1f s (%s)"
              % (args.images, objects, dets, time.perf_counter() - start, args.work))
    else:
        print("reusing %s" % args.work)

    hat_time, hat_cpu, hat_stats = run_hat(args.hat_cocoeval, args.work, args.threads, args.repeat)
    print("hat-cocoeval (threads=%s, best of %d, whole process incl. JSON loading): "
          "wall %.2f s, CPU %.2f s" % (args.threads or "all", args.repeat, hat_time, hat_cpu))
    print("  stats", ["%.4f" % s for s in hat_stats])
    ref = run_pycocotools(args.work)
    if ref is None:
        return
    kind, times, ref_stats = ref
    print("pycocotools: %s" % kind)
    print("  wall: " + ", ".join("%s %.2f s" % kv for kv in times.items() if kv[0] != "cpu")
          + "; CPU %.2f s" % times["cpu"])
    print("  stats", ["%.4f" % s for s in ref_stats])
    print("max |difference| of the 12 numbers: %.3g" % max(abs(a - b) for a, b in zip(hat_stats, ref_stats)))
    print("speed-up, pycocotools / hat-cocoeval: wall %.1fx, CPU %.1fx"
          % (times["total"] / hat_time, times["cpu"] / hat_cpu))


if __name__ == "__main__":
    main()
