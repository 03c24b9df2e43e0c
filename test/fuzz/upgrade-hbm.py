#!/usr/bin/env python3
"""Upgrades HBM version-1 files to version 2 byte for byte.

    test/fuzz/upgrade-hbm.py FILE...

Version 2 (hat::hbm::kVersion) added only the 16-byte checksum trailer
(uint64 payload size, uint32 CRC-32 of the payload, "HBMS", little-endian)
and the version number itself. This rewrites the flatbuffer's `version`
field in place and appends the trailer, leaving every other byte as it
was. It exists for the damaged regression inputs of the hbm fuzzer
(test/fuzz/hbm/regress-*.hbm): recompiling would lose the damage that made
them crash (a misaligned vector, a misaligned arena offset, a bad addShift);
this keeps it. Files already in version 2 are left alone.
"""
import struct
import sys
import zlib

MODEL_IDENTIFIER = b"HBM1"
TRAILER_MAGIC = b"HBMS"
# Model.version is the schema's first field (VT_VERSION = 4 in the
# generated code: the first slot after the vtable's two size fields).
VERSION_SLOT = 4
NEW_VERSION = 2


def upgrade(path):
    data = bytearray(open(path, "rb").read())
    if data[-4:] == TRAILER_MAGIC:
        print(f"{path}: already has a checksum trailer, left alone")
        return
    if data[4:8] != MODEL_IDENTIFIER:
        sys.exit(f"{path}: not an HBM file (no {MODEL_IDENTIFIER!r} identifier)")
    table = struct.unpack_from("<I", data, 0)[0]
    vtable = table - struct.unpack_from("<i", data, table)[0]
    vtable_size = struct.unpack_from("<H", data, vtable)[0]
    if VERSION_SLOT >= vtable_size:
        sys.exit(f"{path}: the model has no version field")
    field = struct.unpack_from("<H", data, vtable + VERSION_SLOT)[0]
    if field == 0:
        sys.exit(f"{path}: the model has no version field")
    old = struct.unpack_from("<I", data, table + field)[0]
    if old != 1:
        sys.exit(f"{path}: version {old}, expected 1")
    struct.pack_into("<I", data, table + field, NEW_VERSION)
    crc = zlib.crc32(bytes(data)) & 0xFFFFFFFF
    data += struct.pack("<QI", len(data), crc) + TRAILER_MAGIC
    open(path, "wb").write(bytes(data))
    print(f"{path}: version 1 -> {NEW_VERSION}, trailer added")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for name in sys.argv[1:]:
        upgrade(name)
