"""Each stream of a PDF serialised (and deflated) once, not twice.

pydyf 0.13 builds the file identifier PDF/A requires by serialising every object a second time
after writing it (``PDF.write``: ``md5(b''.join(obj.data ...))``), and a stream's ``data``
deflates it anew at level 9 each time: ≈ 30 ms of an agreement's render went into compressing
≈ 1.8 MB of font programs a second time, for bytes already written. Streams marked here keep
the bytes of their first serialisation; the file is the same byte for byte (identifier
included), because nothing changes a stream between its being written and the identifier.
"""

from __future__ import annotations

from typing import Any

import pydyf

_ONCE: dict[type, type] = {}
_SLOT = "_serialised"


def _once(cls: type) -> type:
    once = _ONCE.get(cls)
    if once is None:
        serialise = cls.data.fget  # type: ignore[attr-defined]

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
