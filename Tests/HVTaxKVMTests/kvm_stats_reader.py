#!/usr/bin/env python3
"""An independent reader of a KVM binary statistics fd, for cross-checking hvtax's reader.

It duplicates the fd out of the live process with pidfd_getfd(2) (a stats fd is an anonymous
inode: opening /proc/PID/fd/N fails with ENXIO), then parses it with nothing but the layout in
Documentation/virt/kvm/api.rst: header, id, descriptors, data, all located by their offsets.

usage: kvm_stats_reader.py PID FD   -> JSON on stdout
"""
import ctypes
import json
import os
import struct
import sys

SYS_PIDFD_GETFD = 438  # x86-64


def duplicate(pid, target_fd):
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, target_fd, 0)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, "pidfd_getfd: " + os.strerror(err))
        return fd
    finally:
        os.close(pidfd)


def read_stats(fd):
    flags, name_size, num_desc, id_offset, desc_offset, data_offset = struct.unpack(
        "<6I", os.pread(fd, 24, 0))
    ident = os.pread(fd, name_size, id_offset).split(b"\0")[0].decode()
    stride = 16 + name_size
    table = os.pread(fd, stride * num_desc, desc_offset)
    descriptors = []
    for i in range(num_desc):
        base = i * stride
        dflags, exponent, size, offset, bucket = struct.unpack_from("<IhHII", table, base)
        name = table[base + 16:base + stride].split(b"\0")[0].decode()
        values = list(struct.unpack("<%dQ" % size, os.pread(fd, 8 * size, data_offset + offset)))
        descriptors.append({"name": name, "flags": dflags, "exponent": exponent, "size": size,
                            "offset": offset, "bucket_size": bucket, "values": values})
    return {"flags": flags, "name_size": name_size, "id": ident, "data_offset": data_offset,
            "descriptors": descriptors}


def main():
    pid, target = int(sys.argv[1]), int(sys.argv[2])
    fd = duplicate(pid, target)
    try:
        json.dump(read_stats(fd), sys.stdout)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
