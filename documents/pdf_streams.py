"""Each stream of a PDF serialised (and deflated) once, not twice, at zlib's default level.

pydyf 0.13 builds the file identifier PDF/A requires by serialising every object a second time
after writing it (``PDF.write``: ``md5(b''.join(obj.data ...))``), and a stream's ``data``
deflates it anew at level 9 each time: ≈ 30 ms of an agreement's render went into compressing
≈ 1.8 MB of font programs a second time, for bytes already written. Streams marked here keep
the bytes of their first serialisation, so the identifier is the digest of what was written.

They are also deflated at level 6 (zlib's default), not 9: on the agreement's CJK font
programs 9 costs ≈ 40 % more time (≈ 12 ms a render) for 0.13 % fewer bytes (375,989 against
376,464 B). That copy of ``pydyf.Stream.data`` is used only over the pydyf version it was
checked against; streams of a class with its own ``data``, or of another pydyf, keep theirs.
"""

from __future__ import annotations

import zlib
from typing import Any

import pydyf

LEVEL = 6
CHECKED_VERSION = "0.13."

_ONCE: dict[type, type] = {}
_SLOT = "_serialised"
_PYDYF_DATA = pydyf.Stream.data


def deflated(stream: pydyf.Stream) -> bytes:
    """``pydyf.Stream.data`` (0.13), deflating at ``LEVEL``."""
    content = b"\n".join(pydyf._to_bytes(item) for item in stream.stream)
    extra = pydyf.Dictionary(stream.extra.copy())
    if stream.compress:
        extra["Filter"] = "/FlateDecode"
        content = zlib.compress(content, LEVEL)
    extra["Length"] = len(content)
    return b"\n".join((extra.data, b"stream", content, b"endstream"))


def _once(cls: type) -> type:
    once = _ONCE.get(cls)
    if once is None:
        own = cls.data  # type: ignore[attr-defined]
        checked = pydyf.__version__.startswith(CHECKED_VERSION)
        serialise = deflated if own is _PYDYF_DATA and checked else own.fget

        def data(self: Any) -> bytes:
            cached: bytes | None = self.__dict__.get(_SLOT)
            if cached is None:
                cached = self.__dict__[_SLOT] = serialise(self)
            return cached

        once = _ONCE[cls] = type(cls.__name__, (cls,), {"data": property(data)})
    return once


def serialise_once(pdf: pydyf.PDF) -> None:
    """Mark every stream of ``pdf`` to keep its bytes; call when it is complete (a finisher)."""
    for obj in pdf.objects:
        if isinstance(obj, pydyf.Stream) and type(obj) not in _ONCE.values():
            obj.__class__ = _once(type(obj))
