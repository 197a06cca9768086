#!/usr/bin/env python3
"""Decodes a PNG (8-bit RGB or RGBA, as Chromium's screenshots are) with the standard library
only, and prints JSON: size, the share of non-white pixels, pixel counts near given colours, and
the vertical bands (runs of rows) that hold saturated colour — charts, since text is grey.

usage: check_png.py FILE.png [#rrggbb ...]
"""
import json
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upper_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
                line[i] = (line[i] + predictor) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def main():
    path, colours = sys.argv[1], sys.argv[2:]
    targets = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in colours]
    width, height, channels, rows = decode(path)
    counts = [0] * len(targets)
    nonwhite = 0
    coloured_rows = []
    for y, row in enumerate(rows):
        coloured = 0
        for x in range(0, width * channels, channels):
            r, g, b = row[x], row[x + 1], row[x + 2]
            if r < 245 or g < 245 or b < 245:
                nonwhite += 1
            if max(r, g, b) - min(r, g, b) > 50:
                coloured += 1
            for index, (tr, tg, tb) in enumerate(targets):
                if abs(r - tr) <= 10 and abs(g - tg) <= 10 and abs(b - tb) <= 10:
                    counts[index] += 1
        coloured_rows.append(coloured > 20)
    bands, start = [], None
    for y, on in enumerate(coloured_rows + [False]):
        if on and start is None:
            start = y
        elif not on and start is not None:
            if y - start >= 8:
                bands.append([start, y])
            start = None
    print(json.dumps({"width": width, "height": height, "nonWhite": nonwhite / (width * height),
                      "colours": dict(zip(colours, counts)), "bands": bands}))


main()
