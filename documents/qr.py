"""The verification QR code printed on every sealed page.

A PNG with one pixel per module, which the templates scale up with ``image-rendering:
pixelated`` (no interpolation: the modules print as sharp squares, as the vector drawing did).
WeasyPrint draws an SVG's path anew on every page, in Python (≈ 13 ms a page for this code);
an image is decoded once per document and placed on each page as one shared XObject.
"""

from __future__ import annotations

import base64
import io

import segno
from PIL import Image

_DARK, _LIGHT = 0, 255


def qr_png(url: str) -> bytes:
    """8-bit greyscale: PDF has no 1-bit greyscale colour space WeasyPrint would map it to."""
    qr = segno.make(url, error="m", micro=False)
    rows = [bytes(_DARK if module else _LIGHT for module in row) for row in qr.matrix]
    image = Image.frombytes("L", (len(rows[0]), len(rows)), b"".join(rows))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def qr_data_uri(url: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(url)).decode("ascii")
