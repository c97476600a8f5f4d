"""Each organisation's own seal key and certificate (人民调解法 art. 29: the committee's seal).

Where a seal comes from, first match wins:
1. ``MEDIATION_SEAL_DIR/<org id>.key`` and ``<org id>.crt`` — the organisation's production seal;
2. ``MEDIATION_SEAL_KEY`` / ``MEDIATION_SEAL_CERT`` — one seal configured for every organisation;
3. a self-signed development seal generated for the organisation on first use in
   ``<var>/keys/org-<id>/`` (key file mode 0600), named after the organisation.

Loading reads files (and may generate a key): call ``SealKeys.for_org`` from an executor.
"""

from __future__ import annotations

import threading
from pathlib import Path

from aiohttp import web

from app.settings import Settings
from documents.seal import CERT_FILE, SealKey, ensure_dev_key, load_key


class SealKeys:
    """The app's seal keys by organisation id, loaded once per process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loaded: dict[int, SealKey] = {}
        self._lock = threading.Lock()  # executor threads may ask for the same org at once

    def for_org(self, org_id: int, org_name: str) -> SealKey:
        with self._lock:
            key = self._loaded.get(org_id)
            if key is None:
                key = self._loaded[org_id] = self._load(org_id, org_name)
            return key

    def _load(self, org_id: int, org_name: str) -> SealKey:
        settings = self._settings
        if settings.seal_dir is not None:
            key_path = settings.seal_dir / f"{org_id}.key"
            cert_path = settings.seal_dir / f"{org_id}.crt"
            if key_path.exists() and cert_path.exists():
                return load_key(key_path.read_bytes(), cert_path.read_bytes())
        if settings.seal_key_file and settings.seal_cert_file:
            return load_key(
                settings.seal_key_file.read_bytes(), settings.seal_cert_file.read_bytes()
            )
        return ensure_dev_key(self.dev_dir(org_id), org_name)

    def dev_dir(self, org_id: int) -> Path:
        return self._settings.var_dir / "keys" / f"org-{org_id}"

    def trust_roots(self) -> bytes:
        """Every seal certificate this installation knows (PEM): configured ones and development
        ones generated so far. The verification page trusts exactly these."""
        settings = self._settings
        paths: list[Path] = []
        if settings.seal_dir is not None and settings.seal_dir.is_dir():
            paths += sorted(settings.seal_dir.glob("*.crt"))
        if settings.seal_cert_file is not None:
            paths.append(settings.seal_cert_file)
        paths += sorted((settings.var_dir / "keys").glob(f"org-*/{CERT_FILE}"))
        with self._lock:
            loaded = [key.cert_pem for key in self._loaded.values()]
        return b"".join([*(p.read_bytes() for p in paths), *loaded])


seal_keys_key = web.AppKey("seal_keys", SealKeys)
