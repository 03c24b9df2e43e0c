"""Helpers for hat-pack's hardening tests: damage packs, break COCO files,
write malformed IDX and PNG files. Usage: mutate.py COMMAND ARGS..."""
import gzip
import json
import os
import random
import struct
import sys
import zlib


def truncate(path, size):
    size = int(size)
    if size < 0:
        size = os.path.getsize(path) // 2
    with open(path, "r+b") as f:
        f.truncate(size)


def flip(path, count, seed):
    # Changes `count` bytes at random positions (never to the same value).
    rng = random.Random(int(seed))
    data = bytearray(open(path, "rb").read())
    for pos in rng.sample(range(len(data)), int(count)):
        data[pos] = (data[pos] + rng.randrange(1, 256)) % 256
    open(path, "wb").write(bytes(data))


def xor(path, offset, count):
    # Damages `count` bytes from `offset` (xor 0xA5): aimed at a page header.
    data = bytearray(open(path, "rb").read())
    for k in range(int(count)):
        data[int(offset) + k] ^= 0xA5
    open(path, "wb").write(bytes(data))


def coco(path, case):
    c = json.load(open(path))
    a = c["annotations"][0]
    if case == "negative-x":
        a["bbox"][0] = -5
    elif case == "slightly-outside":
        a["bbox"][0] = -0.5
    elif case == "huge":
        a["bbox"][2] = 1e308
    elif case == "outside":
        a["bbox"][0] = 10000
    elif case == "width-2^40":
        c["images"][0]["width"] = 2 ** 40
    elif case == "image-id-1.5":
        a["image_id"] = 1.5
    elif case == "negative-area":
        a["area"] = -3
    elif case == "duplicate-category":
        c["categories"].append(dict(c["categories"][0]))
    elif case == "bbox-string":
        a["bbox"][1] = "7"
    elif case == "images-number":
        c["images"] = 3
    elif case == "category-string":
        a["category_id"] = "shirt"
    else:
        raise SystemExit("unknown case " + case)
    json.dump(c, open(path, "w"))


def idx(directory, rows, cols, count=2):
    rows, cols, count = int(rows), int(cols), int(count)
    os.makedirs(directory, exist_ok=True)
    images = struct.pack(">BBBBIII", 0, 0, 8, 3, count, rows, cols)
    images += bytes(count * rows * cols)
    labels = struct.pack(">BBBBI", 0, 0, 8, 1, count) + bytes(count)
    for split in ("train", "t10k"):
        with gzip.open(os.path.join(directory, split + "-images-idx3-ubyte.gz"), "wb") as f:
            f.write(images)
        with gzip.open(os.path.join(directory, split + "-labels-idx1-ubyte.gz"), "wb") as f:
            f.write(labels)


def idx_overflow(directory):
    # Four dims of 2^32 - 1: their product overflows 64 bits.
    os.makedirs(directory, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 8, 4) + struct.pack(">I", 0xFFFFFFFF) * 4
    for split in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            with gzip.open(os.path.join(directory, split + "-" + kind + "-ubyte.gz"), "wb") as f:
                f.write(header)


def png_header(path, width, height):
    # A PNG whose header declares width x height and whose data is tiny.
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    ihdr = struct.pack(">IIBBBBB", int(width), int(height), 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    data += chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").write(data)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"truncate": truncate, "flip": flip, "xor": xor, "coco": coco, "idx": idx,
     "idx-overflow": idx_overflow, "png-header": png_header}[command](*args)
