"""Mutation probe of the HBM loader and runtime through hat-run.

Flips random bytes of a compiled HBM (XOR with a non-zero byte) and runs
hat-run on each mutant. Every mutant must either be refused with a clear
error (exit 1, "hat-run: <file>: <reason>") or load and run to completion
(exit 0): no signal, no hang, no other exit status.

  raw:      the flip lands anywhere in the file; the CRC-32 trailer must
            refuse every mutant with a checksum/trailer message.
  resealed: the flip lands in the flatbuffer payload and the trailer is
            recomputed, so the mutant reaches the verifier, validate() and,
            when accepted, the runtime.

Prints one summary line per mode; exits 1 on any violation.
"""
import concurrent.futures
import os
import random
import struct
import subprocess
import sys
import zlib

TRAILER = 16


def reseal(payload):
    return payload + struct.pack("<QI", len(payload), zlib.crc32(payload)) + b"HBMS"


def run_one(hat_run, path, npy):
    try:
        p = subprocess.run([hat_run, path, "--input", npy, "--threads", "1"],
                           capture_output=True, text=True, errors="replace",
                           timeout=60)
    except subprocess.TimeoutExpired:
        return "hang", ""
    if p.returncode < 0:
        return "signal", "signal %d" % -p.returncode
    if p.returncode == 0:
        return "ran", ""
    first = p.stderr.splitlines()[0] if p.stderr else ""
    if p.returncode == 1 and first.startswith("hat-run: "):
        return "refused", first
    return "unclear", "exit %d: %s" % (p.returncode, first)


def main():
    hat_run, hbm, npy, workdir, count, seed, mode = sys.argv[1:8]
    count, seed = int(count), int(seed)
    original = open(hbm, "rb").read()
    rng = random.Random(seed)
    jobs = []
    for i in range(count):
        data = bytearray(original)
        if mode == "raw":
            at = rng.randrange(len(data))
            data[at] ^= rng.randrange(1, 256)
        else:
            payload = bytearray(original[:-TRAILER])
            at = rng.randrange(len(payload))
            payload[at] ^= rng.randrange(1, 256)
            data = reseal(bytes(payload))
        path = os.path.join(workdir, "%s-%d.hbm" % (mode, i))
        with open(path, "wb") as f:
            f.write(data)
        jobs.append(path)
    counts = {"refused": 0, "ran": 0, "signal": 0, "hang": 0, "unclear": 0}
    bad = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for path, (kind, why) in zip(jobs, pool.map(
                lambda p: run_one(hat_run, p, npy), jobs)):
            counts[kind] += 1
            if kind in ("signal", "hang", "unclear"):
                bad.append("%s: %s %s" % (path, kind, why))
            elif kind == "refused" and path not in why:
                bad.append("%s: the error does not name the file: %s" % (path, why))
            elif mode == "raw" and kind != "refused":
                bad.append("%s: a raw mutant passed the checksum" % path)
            elif (mode == "raw" and "checksum" not in why and
                  "trailer" not in why):
                bad.append("%s: refused without a checksum error: %s" % (path, why))
            else:
                os.remove(path)
    print("%s: %d mutants, %d refused, %d ran, %d signals, %d hangs, %d unclear"
          % (mode, count, counts["refused"], counts["ran"], counts["signal"],
             counts["hang"], counts["unclear"]))
    for line in bad[:20]:
        print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
