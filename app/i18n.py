"""Translations: zh-CN first, English available.

Message ids are English. Each package keeps its own Babel catalogue in
`<package>/translations/zh_CN.po`; they are read once at start-up and merged.
The request's locale lives in a context variable set by the locale middleware.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.pofile import read_po

from app.settings import ROOT

LOCALES = ("zh_CN", "en")
PACKAGES = ("app", "booking", "rooms", "documents")
SHANGHAI = ZoneInfo("Asia/Shanghai")

_locale: ContextVar[str] = ContextVar("locale", default="zh_CN")
_catalogues: dict[str, dict[str, str]] = {}


def load_catalogues(root: Path = ROOT) -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {locale: {} for locale in LOCALES}
    for package in PACKAGES:
        for locale in LOCALES:
            path = root / package / "translations" / f"{locale}.po"
            if not path.exists():
                continue
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=locale)
            for message in catalog:
                if message.id and message.string and not message.fuzzy:
                    merged[locale][str(message.id)] = str(message.string)
    return merged


def catalogues() -> dict[str, dict[str, str]]:
    # Read-only after the first load: the .po files are part of the release.
    if not _catalogues:
        _catalogues.update(load_catalogues())
    return _catalogues


def set_locale(locale: str) -> None:
    _locale.set(locale if locale in LOCALES else LOCALES[0])


def get_locale() -> str:
    return _locale.get()


def translate(message: str, locale: str, **params: object) -> str:
    text = catalogues().get(locale, {}).get(message, message)
    return text.format(**params) if params else text


def gettext(message: str, **params: object) -> str:
    return translate(message, get_locale(), **params)


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    return gettext(singular if n == 1 else plural, n=n, **params)


_ = gettext


def N_(message: str) -> str:
    """Marks a message id for extraction without translating it here."""
    return message


_WEEKDAYS_ZH = "一二三四五六日"


def format_datetime(value: datetime | None, locale: str | None = None) -> str:
    """2026年11月20日 星期五 14:30 (Asia/Shanghai), or the English equivalent."""
    if value is None:
        return ""
    local = value.astimezone(SHANGHAI)
    if (locale or get_locale()) == "zh_CN":
        return (
            f"{local.year}年{local.month}月{local.day}日 "
            f"星期{_WEEKDAYS_ZH[local.weekday()]} {local:%H:%M}"
        )
    return local.strftime("%a %d %b %Y %H:%M")


def format_date(value: date | datetime | None, locale: str | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date()
    if (locale or get_locale()) == "zh_CN":
        return f"{value.year}年{value.month}月{value.day}日"
    return value.strftime("%d %b %Y")
