"""One HarfBuzz pass subsets each embedded font to the same bytes as WeasyPrint's two."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
import weasyprint
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from weasyprint.pdf import fonts

from documents import font_subset
from documents.pdf import agreement_html
from tests.documents.test_pdf import evidence_line, make_doc

# Every font the agreement prints with: Noto Serif CJK (regular, bold), Noto Sans CJK (the
# seal), HanaMinB and BabelStone Han (rare characters of names), DejaVu Sans Mono (hashes).
RARE_NAME = "王𪚥𠀀\U00030000"  # Extension B (HanaMinB), G (BabelStone Han)


def embedded_fonts(pdf: bytes) -> dict[str, bytes]:
    found = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                for key in ("/FontFile2", "/FontFile3"):
                    if key in descriptor:
                        found[str(font["/BaseFont"])] = descriptor[key].get_object().get_data()
    return found


def agreement_with_every_font() -> str:
    doc = make_doc(terms=(f"被申请人{RARE_NAME}向申请人支付人民币伍佰元整",))
    return agreement_html(replace(doc, evidence=(evidence_line(doc),)))


def both_ways(html: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, bytes], ...]:
    # Installed over the version it was checked with: a WeasyPrint upgrade fails here first.
    assert font_subset.install()
    ours = embedded_fonts(weasyprint.HTML(string=html).write_pdf())
    with monkeypatch.context() as patch:
        patch.setattr(fonts.Font, "_harfbuzz_subset", getattr(fonts.Font, font_subset.UPSTREAM))
        upstream = embedded_fonts(weasyprint.HTML(string=html).write_pdf())
    return ours, upstream


def test_every_font_is_embedded_as_weasyprint_subsets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    ours, upstream = both_ways(agreement_with_every_font(), monkeypatch)
    families = " ".join(ours)
    for family in ("Noto-Serif-CJK-SC", "Noto-Sans-CJK-SC", "HanaMinB", "BabelStone", "DejaVu"):
        assert family in families, families
    assert ours.keys() == upstream.keys()
    for name, data in ours.items():
        assert data == upstream[name], name


def test_glyphs_kept_beyond_the_last_used_are_trimmed_as_weasyprint_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Here the headings' last bold glyph comes before the vertical form Noto keeps for "、":
    # the one case where the second pass changes the font (63,028 glyphs → 44,044).
    ours, upstream = both_ways(agreement_html(make_doc()), monkeypatch)
    bold = next(name for name in ours if name.endswith("Noto-Serif-CJK-SC-Bold"))
    assert TTFont(io.BytesIO(ours[bold]))["maxp"].numGlyphs < 60_000
    assert ours.keys() == upstream.keys()
    for name, data in ours.items():
        assert data == upstream[name], name


def test_a_subset_font_file_is_never_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    # WeasyPrint would copy each face's whole file (20-27 MB for Noto CJK) at construction.
    faces: list[object] = []
    reads: list[object] = []
    init, read = font_subset.Unread.__init__, font_subset.Unread.read
    monkeypatch.setattr(font_subset.Unread, "__init__", lambda s, o: faces.append(o) or init(s, o))
    monkeypatch.setattr(font_subset.Unread, "read", lambda s: reads.append(s) or read(s))
    assert font_subset.install()
    assert len(embedded_fonts(weasyprint.HTML(string=agreement_html(make_doc())).write_pdf())) == 3
    assert len(faces) >= 3
    assert reads == []


def test_a_font_embedded_whole_is_the_file_read_when_asked() -> None:
    assert font_subset.install()
    path = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
    html = "<p style=\"font-family: 'DejaVu Sans Mono'\">0123 abcdef</p>"
    (data,) = embedded_fonts(weasyprint.HTML(string=html).write_pdf(full_fonts=True)).values()
    with open(path, "rb") as font_file:
        assert data == font_file.read()
