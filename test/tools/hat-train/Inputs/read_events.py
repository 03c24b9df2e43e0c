"""Reads TensorBoard event files with code independent of HAT's reader.

The record framing is checked with Debian's python3-crc32c and the Event
messages are decoded by Debian's python3-protobuf from a schema declared
here with TensorFlow's field numbers (tensorflow.Event: wall_time 1,
step 2, file_version 3, summary 5; Summary.value 1; Summary.Value: tag 1,
simple_value 2). Prints the file version and one "tag step value" line per
scalar; exits 1 on any framing or decoding error.

usage: read_events.py EVENT_DIR
"""
import glob
import os
import struct
import sys

import crc32c
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def build_event_class():
    file = descriptor_pb2.FileDescriptorProto(name="tb_event.proto",
                                              package="tensorflow",
                                              syntax="proto3")
    value = file.message_type.add(name="SummaryValue")
    value.field.add(name="tag", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    value.field.add(name="simple_value", number=2, type=F.TYPE_FLOAT,
                    label=F.LABEL_OPTIONAL)
    summary = file.message_type.add(name="Summary")
    summary.field.add(name="value", number=1, type=F.TYPE_MESSAGE,
                      label=F.LABEL_REPEATED, type_name=".tensorflow.SummaryValue")
    event = file.message_type.add(name="Event")
    event.field.add(name="wall_time", number=1, type=F.TYPE_DOUBLE,
                    label=F.LABEL_OPTIONAL)
    event.field.add(name="step", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    event.oneof_decl.add(name="what")
    event.field.add(name="file_version", number=3, type=F.TYPE_STRING,
                    label=F.LABEL_OPTIONAL, oneof_index=0)
    event.field.add(name="summary", number=5, type=F.TYPE_MESSAGE,
                    label=F.LABEL_OPTIONAL, type_name=".tensorflow.Summary",
                    oneof_index=0)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.MessageFactory(pool).GetPrototype(
        pool.FindMessageTypeByName("tensorflow.Event"))


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def main():
    event_class = build_event_class()
    files = sorted(glob.glob(os.path.join(sys.argv[1], "events.out.tfevents.*")))
    if not files:
        sys.exit("no event files in " + sys.argv[1])
    for path in files:
        data = open(path, "rb").read()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            (length_crc,) = struct.unpack_from("<I", data, offset + 8)
            if masked(crc32c.crc32c(data[offset:offset + 8])) != length_crc:
                sys.exit("%s: bad length CRC at %d" % (path, offset))
            payload = data[offset + 12:offset + 12 + length]
            (data_crc,) = struct.unpack_from("<I", data, offset + 12 + length)
            if len(payload) != length or masked(crc32c.crc32c(payload)) != data_crc:
                sys.exit("%s: bad data CRC at %d" % (path, offset))
            event = event_class()
            event.ParseFromString(payload)
            if event.WhichOneof("what") == "file_version":
                print("file_version", event.file_version)
            elif event.WhichOneof("what") == "summary":
                for v in event.summary.value:
                    print(v.tag, event.step, "%.6g" % v.simple_value)
            offset += 12 + length + 4


main()
