"""Reading PDFs back with an independent reader (poppler), and signature images to sign with."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib


def signature_png(width: int = 120, height: int = 40) -> bytes:
    """A drawn-looking signature: a dark stroke on a transparent RGBA background."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type: none
        for x in range(width):
            on_stroke = abs(y - (height // 2 + (x % 20) - 10)) <= 1
            row += bytes((20, 20, 60, 255)) if on_stroke else bytes((255, 255, 255, 0))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def poppler(tool: str, *args: str, stdin: bytes | None = None) -> str:
    """Run a poppler-utils tool (an independent PDF reader) and return its stdout."""
    path = shutil.which(tool)
    assert path, f"{tool} (poppler-utils) is not installed"
    # Fixed tool and arguments from this file, no shell.
    done = subprocess.run([path, *args], input=stdin, capture_output=True, check=False)
    return done.stdout.decode()


def pdf_text(pdf: bytes) -> str:
    return poppler("pdftotext", "-enc", "UTF-8", "-", "-", stdin=pdf)


def drawn_images(pdf_path: str, width: int, height: int) -> int:
    """How many images of this pixel size the PDF draws (pdfimages lists nested ones too)."""
    rows = poppler("pdfimages", "-list", pdf_path).splitlines()[2:]
    return sum(1 for row in rows if row.split()[2:5] == ["image", str(width), str(height)])
