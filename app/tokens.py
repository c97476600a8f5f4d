"""Random bearer secrets, the one-way hashes we store instead of them, and their redaction from
text that is kept or shown (stored SMS, finished jobs, logs)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

# A party's capability link is `/p/<token>` (app/routes.py). Percent signs too: a probe may
# arrive encoded, and an encoded token is still the token.
_PARTY_LINK = re.compile(r"/p/[A-Za-z0-9_%-]+")
REDACTED_PARTY_LINK = "/p/••••"


def new_token() -> str:
    """256 bits of randomness, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def redact_party_links(text: str) -> str:
    """`text` with the token of every party link replaced: `https://h/p/<token>` → `https://h/p/••••`.

    A capability link is a password; every copy kept after the SMS is handed over, shown on a
    page or written to a log goes through here.
    """
    return _PARTY_LINK.sub(REDACTED_PARTY_LINK, text)
