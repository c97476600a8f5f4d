"""Text that will be printed on a signed document must print as typed.

What people sign is stored, hashed and printed byte for byte, so anything the PDF would show
differently (or not at all) is settled before anyone signs: white space is normalised where it is
typed, and invisible or unprintable characters are refused. A right-to-left override, for
example, makes 「赔偿‮元0003」 print as 「赔偿3000元」 while the signed text says otherwise.
"""

from __future__ import annotations

import re
import unicodedata

from app.i18n import N_

# Control, format (zero-width, direction marks and overrides), private-use, surrogate, unassigned.
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
_SPACE_RUN = re.compile(r"[^\S\n]+")  # any white space but a line break: tab, U+3000, U+00A0…
UNPRINTABLE = N_(
    "This text contains an invisible or unprintable character (such as a direction mark or a "
    "control character). Please type it again."
)


def single_spaced(text: str) -> str:
    """Each run of white space within a line becomes one space; lines are stripped; line breaks
    stay (they separate paragraphs, terms)."""
    return "\n".join(_SPACE_RUN.sub(" ", line).strip() for line in text.splitlines()).strip()


def unprintable(text: str) -> str | None:
    """The first character that would not print as typed (line breaks are fine), or None."""
    for char in text:
        if char != "\n" and unicodedata.category(char) in _UNPRINTABLE_CATEGORIES:
            return char
    return None
