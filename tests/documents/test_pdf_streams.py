"""Streams serialised once: the same file byte for byte, each stream deflated once."""

from __future__ import annotations

import io
import os
import zlib

import pydyf

from documents import pdf_streams


class CountingStream(pydyf.Stream):
    serialised = 0

    @property
    def data(self) -> bytes:
        CountingStream.serialised += 1
        return super().data


def build() -> pydyf.PDF:
    pdf = pydyf.PDF()
    font = CountingStream([os.urandom(4096) + b"\x00" * 40_000], compress=True)
    pdf.add_object(font)
    page = pydyf.Stream([b"BT /F1 12 Tf (x) Tj ET"], compress=True)
    pdf.add_object(page)
    pdf.add_page(pydyf.Dictionary({"Type": "/Page", "Contents": page.reference}))
    pdf.info["Title"] = pydyf.String("agreement")
    return pdf


def write(pdf: pydyf.PDF) -> bytes:
    out = io.BytesIO()
    pdf.write(out, b"1.7", identifier=True, compress=True)
    return out.getvalue()


def test_the_file_is_the_same_and_each_stream_is_serialised_once() -> None:
    plain, once = build(), build()
    plain.objects[3].stream = once.objects[3].stream  # the same random bytes in both
    CountingStream.serialised = 0
    expected = write(plain)
    assert CountingStream.serialised == 2  # pydyf: once written, once for the identifier

    CountingStream.serialised = 0
    pdf_streams.serialise_once(once)
    assert write(once) == expected
    assert CountingStream.serialised == 1
    assert isinstance(once.objects[3], CountingStream)  # still what it was, for WeasyPrint
    assert zlib.decompress(once.objects[3].data.split(b"stream\n")[1].rsplit(b"\nendstream")[0])


def test_marking_twice_keeps_one_level() -> None:
    pdf = build()
    pdf_streams.serialise_once(pdf)
    marked = type(pdf.objects[3])
    pdf_streams.serialise_once(pdf)
    assert type(pdf.objects[3]) is marked
