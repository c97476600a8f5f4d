"""Embedded fonts subset in one HarfBuzz pass where WeasyPrint's second would change nothing.

WeasyPrint 70 subsets each font twice: first keeping the used glyphs at their ids
(``RETAIN_GIDS``), then keeping every glyph id up to the last used one, to drop the hints and
any glyph kept beyond it. The second pass is the costly one for CJK: it walks every glyph up to
the last used (≈ 63,000 in Noto CJK), ≈ 26 of ≈ 43 ms a font, three fonts in an agreement.
When the first pass, run with the second's flags, already ends at the last used glyph, its
result is the second's, byte for byte; only otherwise is the second pass run.
``tests/documents/test_font_subset.py`` compares both ways for every font the documents print
with (Noto Serif/Sans CJK, HanaMinB, BabelStone Han, DejaVu Sans Mono).

Each font's file is also read from its face only when something asks for it. WeasyPrint copies
every face's whole file into Python at construction (``Font.file_content``: 20–27 MB for each
Noto CJK face, ≈ 9 ms a render and ≈ 70 MB of peak memory for an agreement's three), and then
subsetting replaces the copy unread.

Installed only over the WeasyPrint version it was checked against; any other keeps its own.
"""

from __future__ import annotations

from typing import Any

CHECKED_VERSION = "70."
UPSTREAM = "_harfbuzz_subset_upstream"

# WeasyPrint's list, and FontForge's timestamp table (HanaMinB, DejaVu), which its second pass
# loses: HarfBuzz passes through only the tables it knows when the source is its own output.
_DROP_TABLES = (
    b"BASE", b"DSIG", b"EBDT", b"EBLC", b"EBSC", b"FFTM", b"GPOS", b"GSUB", b"JSTF", b"LTSH",
    b"PCLT", b"SVG ",
)  # fmt: skip


def subset_once(font: Any, to_unicode: dict[int, Any], hinting: bool) -> None:
    """``weasyprint.pdf.fonts.Font._harfbuzz_subset``, its second pass only when it trims."""
    from weasyprint.logger import LOGGER
    from weasyprint.text.ffi import ffi, harfbuzz, harfbuzz_subset
    from weasyprint.text.fonts import get_hb_object_data

    hb_subset = ffi.gc(
        harfbuzz_subset.hb_subset_input_create_or_fail(),
        harfbuzz_subset.hb_subset_input_destroy,
    )
    glyphs = harfbuzz_subset.hb_subset_input_glyph_set(hb_subset)
    _add(harfbuzz, glyphs, list(to_unicode))
    flags = (
        harfbuzz_subset.HB_SUBSET_FLAGS_PASSTHROUGH_UNRECOGNIZED
        | harfbuzz_subset.HB_SUBSET_FLAGS_DESUBROUTINIZE
    )
    if not hinting:
        flags |= harfbuzz_subset.HB_SUBSET_FLAGS_NO_HINTING
    if font.missing:
        flags |= harfbuzz_subset.HB_SUBSET_FLAGS_NOTDEF_OUTLINE
    harfbuzz_subset.hb_subset_input_set_flags(
        hb_subset, flags | harfbuzz_subset.HB_SUBSET_FLAGS_RETAIN_GIDS
    )
    drop = harfbuzz_subset.hb_subset_input_set(
        hb_subset, harfbuzz_subset.HB_SUBSET_SETS_DROP_TABLE_TAG
    )
    _add(harfbuzz, drop, [harfbuzz.hb_tag_from_string(name, -1) for name in _DROP_TABLES])
    hb_face = ffi.gc(
        harfbuzz_subset.hb_subset_or_fail(font.hb_face, hb_subset), harfbuzz.hb_face_destroy
    )
    last = max(to_unicode)
    if hb_face and harfbuzz.hb_face_get_glyph_count(hb_face) > last + 1:
        # Glyphs kept for the font's own substitutions (e.g. vertical forms) lie beyond the
        # last one used: WeasyPrint's second pass, which keeps ids 0 to ``last``, trims them.
        _add(harfbuzz, glyphs, list(range(last + 1)))
        harfbuzz_subset.hb_subset_input_set_flags(hb_subset, flags)
        hb_face = ffi.gc(
            harfbuzz_subset.hb_subset_or_fail(hb_face, hb_subset), harfbuzz.hb_face_destroy
        )
    if hb_face and (file_content := get_hb_object_data(hb_face)):
        font.file_content = file_content
        return
    LOGGER.warning('Unable to subset "%s" with HarfBuzz', font.family)


def _add(harfbuzz: Any, hb_set: Any, values: list[int]) -> None:
    from weasyprint.text.ffi import ffi

    harfbuzz.hb_set_add_sorted_array(
        hb_set, ffi.new(f"hb_codepoint_t[{len(values)}]", sorted(values)), len(values)
    )


def install() -> bool:
    """Use ``subset_once`` in this process if WeasyPrint is the version it was checked with."""
    import weasyprint
    from weasyprint.pdf import fonts

    if not weasyprint.__version__.startswith(CHECKED_VERSION):
        return False
    if not hasattr(fonts.Font, UPSTREAM):  # kept for the test that compares the two
        setattr(fonts.Font, UPSTREAM, fonts.Font._harfbuzz_subset)
    fonts.Font._harfbuzz_subset = subset_once
    fonts.get_hb_object_data = unread_data  # the module's own name: Font() and its subsetting
    fonts.Font.file_content = FileContent()
    return True


class Unread:
    """A HarfBuzz face (or blob owner) whose bytes nobody has read yet."""

    __slots__ = ("hb_object",)

    def __init__(self, hb_object: Any) -> None:
        self.hb_object = hb_object

    def __bool__(self) -> bool:  # as the bytes would be: false when there are none
        from weasyprint.text.ffi import harfbuzz

        blob = harfbuzz.hb_face_reference_blob(self.hb_object)
        try:
            return bool(harfbuzz.hb_blob_get_length(blob))
        finally:
            harfbuzz.hb_blob_destroy(blob)

    def read(self) -> bytes:
        from weasyprint.text.fonts import get_hb_object_data

        data: bytes = get_hb_object_data(self.hb_object)
        return data


def unread_data(hb_object: Any, *args: Any, **kwargs: Any) -> Any:
    """``get_hb_object_data`` for ``weasyprint.pdf.fonts``: a whole face is read when used."""
    from weasyprint.text.fonts import get_hb_object_data

    if args or kwargs:
        return get_hb_object_data(hb_object, *args, **kwargs)
    return Unread(hb_object)


class FileContent:
    """``Font.file_content``, read from the face on first use."""

    def __get__(self, font: Any, owner: type | None = None) -> Any:
        if font is None:
            return self
        value = font.__dict__["file_content"]
        if isinstance(value, Unread):
            value = font.__dict__["file_content"] = value.read()
        return value

    def __set__(self, font: Any, value: Any) -> None:
        font.__dict__["file_content"] = value
