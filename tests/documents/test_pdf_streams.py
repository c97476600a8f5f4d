"""Streams serialised once: the same file byte for byte, each stream deflated once."""

from __future__ import annotations

import io
import os
import re
import zlib

import pydyf
from pypdf import PdfReader

from documents import pdf_streams

CONTENT = os.urandom(4096) + b"\x00" * 40_000


class CountingStream(pydyf.Stream):
    serialised = 0

    @property
    def data(self) -> bytes:
        CountingStream.serialised += 1
        return super().data


def build(stream_class: type[pydyf.Stream] = CountingStream) -> pydyf.PDF:
    pdf = pydyf.PDF()
    font = stream_class([CONTENT], compress=True)
    pdf.add_object(font)
    page = stream_class([b"BT /F1 12 Tf (x) Tj ET"], compress=True)
    pdf.add_object(page)
    pdf.add_page(pydyf.Dictionary({"Type": "/Page", "Contents": page.reference}))
    pdf.info["Title"] = pydyf.String("agreement")
    return pdf


def write(pdf: pydyf.PDF) -> bytes:
    out = io.BytesIO()
    pdf.write(out, b"1.7", identifier=True, compress=True)
    return out.getvalue()


def test_the_file_is_the_same_and_each_stream_is_serialised_once() -> None:
    CountingStream.serialised = 0
    expected = write(build())
    assert CountingStream.serialised == 4  # pydyf: once written, once for the identifier

    once = build()
    CountingStream.serialised = 0
    pdf_streams.serialise_once(once)
    assert write(once) == expected  # a class with its own data keeps it, level 9 included
    assert CountingStream.serialised == 2
    assert isinstance(once.objects[3], CountingStream)  # still what it was, for WeasyPrint


def _parts(data: bytes) -> tuple[bytes, bytes]:
    header, rest = data.split(b"\nstream\n", 1)
    return re.sub(rb"/Length \d+", b"", header), rest.rsplit(b"\nendstream", 1)[0]


def test_plain_streams_deflate_at_the_default_level_to_the_same_content() -> None:
    # The copy of pydyf's Stream.data is checked against this version: an upgrade fails here.
    assert pydyf.__version__.startswith(pdf_streams.CHECKED_VERSION)
    upstream, ours = build(pydyf.Stream), build(pydyf.Stream)
    pdf_streams.serialise_once(ours)
    for theirs, mine in zip(upstream.objects[3:5], ours.objects[3:5], strict=True):
        (their_header, their_body), (my_header, my_body) = _parts(theirs.data), _parts(mine.data)
        assert my_header == their_header
        assert zlib.decompress(my_body) == zlib.decompress(their_body)
        assert my_body == zlib.compress(zlib.decompress(their_body), pdf_streams.LEVEL)
        assert mine.data is mine.data  # kept, not deflated again
    reader = PdfReader(io.BytesIO(write(ours)))
    assert reader.pages[0].get_contents().get_data() == b"BT /F1 12 Tf (x) Tj ET"  # type: ignore[union-attr]
    assert reader.trailer["/ID"][0] == reader.trailer["/ID"][1]


def test_marking_twice_keeps_one_level() -> None:
    pdf = build()
    pdf_streams.serialise_once(pdf)
    marked = type(pdf.objects[3])
    pdf_streams.serialise_once(pdf)
    assert type(pdf.objects[3]) is marked
