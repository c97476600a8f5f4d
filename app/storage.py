"""Where uploaded and generated files live, behind one small interface: a local directory by
default, object storage later (docs/scaling.md). Keys are chosen by the caller and never come
from user input; contents are addressed by their SHA-256 as well, so a stored file proves itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from aiohttp import web

from app.settings import Settings

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,7}")


class Storage(Protocol):
    async def put(self, key: str, data: bytes) -> str:
        """Stores `data` under `key` (replacing nothing: keys are unique); returns its SHA-256."""
        ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key) or ".." in key:
        raise ValueError(f"bad storage key {key!r}")
    return key


class LocalStorage:
    """Files under one directory, written to a temporary name and renamed, so a reader never
    sees half a file and a crash leaves no partial one under a real key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
        temporary.write_bytes(data)
        os.replace(temporary, path)

    async def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        await asyncio.to_thread(self._write, path, data)
        return hashlib.sha256(data).hexdigest()

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)


storage_key = web.AppKey("storage", Storage)


async def keep_once(
    storage: Storage, key: str, data: bytes, record: Callable[[], Awaitable[bool]]
) -> bool:
    """Stores the file, then runs `record` (a transaction writing the row that names it). No
    file outlives a failed transaction, nor one that lost the race to another (`record` said
    False)."""
    await storage.put(key, data)
    try:
        won = await record()
    except BaseException:
        await storage.delete(key)
        raise
    if not won:
        await storage.delete(key)
    return won


def storage_root(settings: Settings) -> Path:
    return settings.storage_dir or settings.var_dir / "files"


def setup(app: web.Application, settings: Settings) -> None:
    app[storage_key] = LocalStorage(storage_root(settings))
