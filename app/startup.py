"""Settings that must not reach production, checked where every entry point passes (`create_app`).

There is no session secret to check: sessions are random server-side tokens (`app/auth.py`) and
nothing signs cookies, so no signing key can be left at a default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.settings import DEVELOPMENT_ID_HASH_KEY, MODES, Settings

log = logging.getLogger("app.startup")
MIN_SECRET_CHARS = 32
EXIT_UNSAFE_SETTINGS = 2
EXIT_DATABASE_NOT_READY = 1


@dataclass(frozen=True)
class Problem:
    variable: str  # the environment variable that fixes it
    why: str


class RefusedToStart(Exception):
    """The process must not start; the message is for the operator's console, not for users."""

    def __init__(self, message: str, exit_status: int) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def production_problems(settings: Settings) -> list[Problem]:
    """What makes these settings unsafe for real cases (pure: reads no files, no network)."""
    problems = [*_mode(settings), *_id_hash_key(settings), *_seal(settings), *_https(settings)]
    problems += _public_base_url(settings)
    if settings.turn_url and not settings.turn_secret:
        problems.append(
            Problem(
                "MEDIATION_TURN_SECRET",
                "is not set although MEDIATION_TURN_URL is: browsers get no TURN credentials, "
                "so parties behind strict NATs cannot connect; set coturn's static-auth-secret",
            )
        )
    if settings.outbox_shows_links:
        problems.append(
            Problem(
                "MEDIATION_OUTBOX_SHOWS_LINKS",
                "is on: the message outbox keeps party links (which work like passwords) "
                "readable; it is for the demo only, unset it",
            )
        )
    return problems


def _mode(settings: Settings) -> list[Problem]:
    if settings.mode in MODES:
        return []
    return [Problem("MEDIATION_MODE", f"is {settings.mode!r}, not one of {', '.join(MODES)}")]


def _id_hash_key(settings: Settings) -> list[Problem]:
    key = settings.id_hash_key
    if key == DEVELOPMENT_ID_HASH_KEY:
        why = "is the public development value: full ID numbers can be recovered from the stored"
        why += " mask and digest in seconds"
    elif len(key) < MIN_SECRET_CHARS:
        why = f"has only {len(key)} characters: a short key can be searched like a password"
    else:
        return []
    why += f"; set a random secret of at least {MIN_SECRET_CHARS} characters and never change it"
    return [Problem("MEDIATION_ID_HASH_KEY", why)]


def _seal(settings: Settings) -> list[Problem]:
    if settings.seal_dir is not None:  # each organisation's own seal (documents/keys.py)
        return []
    unset = [
        name
        for name, value in (
            ("MEDIATION_SEAL_KEY", settings.seal_key_file),
            ("MEDIATION_SEAL_CERT", settings.seal_cert_file),
        )
        if value is None
    ]
    if not unset:
        return []
    return [
        Problem(
            " and ".join(unset),
            ("is" if len(unset) == 1 else "are") + " not set: agreements would be sealed with a "
            "self-signed development seal generated on this machine, which courts cannot trust; "
            "set the organisation's seal key and certificate (PEM files)",
        )
    ]


def _https(settings: Settings) -> list[Problem]:
    if not settings.base_url.startswith("https://"):
        return [
            Problem(
                "MEDIATION_BASE_URL",
                f"is {settings.base_url}: parties' links, cookies and camera access need HTTPS; "
                "set the public https:// address (behind a TLS-terminating proxy)",
            )
        ]
    if not settings.https:
        return [
            Problem(
                "MEDIATION_HTTPS",
                "is false although the base URL is https: cookies would not be Secure and no "
                "HSTS would be sent; remove it or set it to true",
            )
        ]
    return []


def _public_base_url(settings: Settings) -> list[Problem]:
    """Issue 9: the verification link printed in every sealed agreement's QR code."""
    url = settings.public_base_url
    if url is None or url.startswith("https://"):
        return []
    return [
        Problem(
            "MEDIATION_PUBLIC_BASE_URL",
            f"is {url}: the verification link printed in every agreement's QR code must be "
            "https:// (it is printed for good and opened by courts and parties)",
        )
    ]


def refusal_message(problems: list[Problem]) -> str:
    lines = [f"refusing to start in production mode: {len(problems)} unsafe setting(s)"]
    lines += [f"  - {problem.variable} {problem.why}" for problem in problems]
    lines.append(
        "Fix them (docs/deployment.md), or set MEDIATION_MODE=development to run the demo "
        "with its public secrets."
    )
    return "\n".join(lines)


def check_settings(settings: Settings) -> None:
    """Production refuses unsafe settings; development (the demo) runs with them and says so."""
    problems = production_problems(settings)
    if not problems:
        return
    if settings.mode != "development":
        raise RefusedToStart(refusal_message(problems), EXIT_UNSAFE_SETTINGS)
    log.warning(
        "development mode, not fit for real cases: %s",
        "; ".join(f"{p.variable} {p.why.split(':')[0]}" for p in problems),
    )
