"""Typed domain errors. Services raise them; one middleware turns them into HTTP answers."""

from __future__ import annotations

from collections.abc import Mapping

from app.i18n import N_


class DomainError(Exception):
    """Carries a message id (English msgid of the catalogues) and the HTTP status it maps to."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


class UserError(DomainError):
    status = 400
    code = "invalid"


class ValidationFailed(UserError):
    """One or more form fields are wrong; `fields` maps field name to message id."""

    status = 422
    code = "validation_failed"

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__(N_("Please correct the highlighted fields."))
        self.fields = dict(fields)


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Gone(DomainError):
    status = 410
    code = "gone"


class TooManyRequests(DomainError):
    """Throttled; `retry_after` seconds until the next attempt may succeed (Retry-After)."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int, **params: object) -> None:
        super().__init__(message, **params)
        self.retry_after = max(1, int(retry_after))


class ServiceUnavailable(DomainError):
    status = 503
    code = "unavailable"


class PayloadTooLarge(UserError):
    """An upload larger than its route allows."""

    status = 413
    code = "payload_too_large"
