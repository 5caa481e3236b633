#!/usr/bin/python3
"""Parts of a Windows guest a test builds without Windows.

    mkwin.py hive FILE      an empty registry hive (regf), for hivexregedit
                            --merge to fill: hivex edits hives, never
                            creates one
    mkwin.py pe FILE        the header of an x86-64 console PE, all that
                            inspection and file(1) look at in cmd.exe
    mkwin.py bitlocker FILE SIZE
                            a volume blkid takes for BitLocker: the
                            boot sector's signature and three FVE
                            metadata blocks, no data
"""
import struct
import sys


def hive(path):
    # One hive bin holding the root key and its security cell.
    hb = bytearray(4096)
    hb[0:4] = b'hbin'
    struct.pack_into('<III', hb, 4, 0, 4096, 0)
    name = b'ROOT'
    sk_off = 0x20 + 88
    nk = struct.pack('<i2sHqIIIIIIIIIIHHIIIIHH', -88, b'nk', 0x2c, 0, 0,
                     0xffffffff, 0, 0, 0xffffffff, 0xffffffff, 0,
                     0xffffffff, sk_off, 0xffffffff, 0, 0, 0, 0, 0, 0,
                     len(name), 0) + name
    hb[0x20:0x20 + len(nk)] = nk
    # A self-relative security descriptor with nothing in it.
    desc = struct.pack('<BBHIIII', 1, 0, 0x8000, 0, 0, 0, 0)
    sk = struct.pack('<i2sHIIII', -48, b'sk', 0, sk_off, sk_off, 1,
                     len(desc)) + desc
    hb[sk_off:sk_off + len(sk)] = sk
    free = sk_off + 48
    struct.pack_into('<i', hb, free, 4096 - free)
    base = bytearray(4096)
    base[0:4] = b'regf'
    struct.pack_into('<IIqIIIIIII', base, 4, 1, 1, 0, 1, 3, 0, 1, 0x20,
                     4096, 1)
    ck = 0
    for i in range(0, 508, 4):
        ck ^= struct.unpack_from('<I', base, i)[0]
    struct.pack_into('<I', base, 508, ck)
    with open(path, 'wb') as f:
        f.write(base + hb)


def pe(path):
    b = bytearray(1024)
    b[0:2] = b'MZ'
    struct.pack_into('<I', b, 0x3c, 0x40)
    b[0x40:0x44] = b'PE\0\0'
    # x86-64, no sections, an optional header of 240 bytes: PE32+,
    # console subsystem.
    struct.pack_into('<HHIIIHH', b, 0x44, 0x8664, 0, 0, 0, 0, 0xf0, 0x22)
    struct.pack_into('<H', b, 0x58, 0x20b)
    struct.pack_into('<H', b, 0x58 + 68, 3)
    with open(path, 'wb') as f:
        f.write(b)


def bitlocker(path, size):
    b = bytearray(size)
    b[0:11] = b'\xeb\x58\x90-FVE-FS-'
    struct.pack_into('<H', b, 11, 512)
    b[510:512] = b'\x55\xaa'
    for i, off in enumerate((0x10000, 0x20000, 0x30000)):
        struct.pack_into('<Q', b, 176 + 8 * i, off)
        b[off:off + 8] = b'-FVE-FS-'
        struct.pack_into('<H', b, off + 10, 2)
    with open(path, 'wb') as f:
        f.write(b)


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == 'hive':
        hive(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == 'pe':
        pe(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == 'bitlocker':
        bitlocker(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)
