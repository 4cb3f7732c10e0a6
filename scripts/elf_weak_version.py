"""Marks a version that an ELF shared library requires from another as weak (VER_FLG_WEAK in .gnu.version_r),
so that the dynamic loader accepts a library of that name that lacks the version: used by gpu_bundle.sh for
ONNX Runtime's per-release symbol version, together with `patchelf --clear-symbol-version`.

    python scripts/elf_weak_version.py LIBRARY VERSION
"""
from __future__ import annotations

import struct
import sys

VER_FLG_WEAK = 0x2
SHT_GNU_VERNEED = 0x6FFFFFFE


def main() -> None:
    path, version = sys.argv[1], sys.argv[2].encode()
    data = bytearray(open(path, "rb").read())
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit(f"{path}: not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    patched = 0
    for _, sh_type, _, _, offset, _, link, info, _, _ in sections:
        if sh_type != SHT_GNU_VERNEED:
            continue
        strtab = sections[link][4]
        entry = offset
        for _ in range(info):
            _, cnt, _, aux, nxt = struct.unpack_from("<HHIII", data, entry)
            a = entry + aux
            for _ in range(cnt):
                _, flags, _, name, anext = struct.unpack_from("<IHHII", data, a)
                end = data.index(b"\0", strtab + name)
                if bytes(data[strtab + name:end]) == version:
                    struct.pack_into("<H", data, a + 4, flags | VER_FLG_WEAK)
                    patched += 1
                a += anext
            entry += nxt
    if not patched:
        sys.exit(f"{path}: requires no version {version.decode()}")
    open(path, "wb").write(data)


if __name__ == "__main__":
    main()
