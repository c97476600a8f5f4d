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


_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")


def _bytes(text: str) -> bytes:
    # Header values that were not UTF-8 reach us with surrogate escapes; they hash and compare
    # as the bytes that were sent (and match nothing), never as a server error.
    return text.encode("utf-8", "surrogateescape")


def token_hash(token: str) -> str:
    return hashlib.sha256(_bytes(token)).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(_bytes(a), _bytes(b))


def plausible_token(value: str | None) -> bool:
    """Shaped like a token we issue (URL-safe base64), so it may be echoed into a page."""
    return value is not None and _TOKEN_SHAPE.fullmatch(value) is not None


def redact_party_links(text: str) -> str:
    """`text` with the token of every party link replaced: `https://h/p/<token>` → `https://h/p/••••`.

    A capability link is a password; every copy kept after the SMS is handed over, shown on a
    page or written to a log goes through here.
    """
    return _PARTY_LINK.sub(REDACTED_PARTY_LINK, text)
