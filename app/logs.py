"""Structured-ish logging with personal data and party links masked."""

from __future__ import annotations

import logging

from app.identity import mask_text
from app.tokens import redact_party_links


def _mask(text: str) -> str:
    return redact_party_links(mask_text(text))


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _mask(record.getMessage())
        record.args = None
        # A traceback may quote a request path or a job payload: mask it too. The formatter
        # uses `exc_text` when set instead of formatting the exception itself.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _mask(record.exc_text)
        return True


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(isinstance(f, MaskingFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler.addFilter(MaskingFilter())
        root.addHandler(handler)
    root.setLevel(level)
