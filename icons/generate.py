"""Draws Annal's app and tray icons as RGBA PNGs (no image library needed).

The app icon is a book-like stack of three bars on a dark disc; tray icons are the same mark
on a disc coloured by indexing state. Run: python3 icons/generate.py
"""
import math
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).parent


def png(path: Path, size: int, pixel) -> None:
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x + 0.5, y + 0.5, size)) for x in range(size))
        for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
    )


def mark(disc):
    def pixel(x, y, size):
        u, v = x / size, y / size
        r = math.hypot(u - 0.5, v - 0.5)
        alpha = max(0.0, min(1.0, (0.48 - r) * size))
        if alpha == 0:
            return (0, 0, 0, 0)
        bars = [(0.30, 0.38), (0.46, 0.54), (0.62, 0.70)]
        on_bar = any(top <= v < bottom for top, bottom in bars) and 0.28 <= u < 0.72
        colour = (245, 245, 240) if on_bar else disc
        return (*colour, int(alpha * 255))

    return pixel


STATES = {"idle": (46, 125, 96), "indexing": (214, 150, 30), "failed": (200, 50, 50)}

if __name__ == "__main__":
    app = mark((32, 48, 80))
    for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
        png(HERE / name, size, app)
    for state, colour in STATES.items():
        png(HERE / f"tray-{state}.png", 64, mark(colour))
