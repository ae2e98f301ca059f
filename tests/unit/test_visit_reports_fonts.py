"""The shipped fonts are parsed once per process (chalicelib.services.pdf_fonts), not once per PDF: a second
label sheet or visit report lends the parse kept from the first, and comes out byte for byte as fpdf2 would
write it after parsing the files itself. No AWS."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from fpdf import FPDF
from fpdf.fonts import TTFFont
from pypdf import PdfReader

from chalicelib.services import labels, pdf_fonts

WHEN = dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.UTC)
TEXTS = [
    "故障技术报告 T-2026-000123 上海市第一中学 灯具 EP-LED-40",
    "故障处理报告 满意度 签字确认 Ärger Å ﬁ",  # other glyphs; Å and ﬁ are composite glyphs in DejaVu Sans
    "故障技术报告 T-2026-000123 上海市第一中学 灯具 EP-LED-40",  # the first again, after two subsets
]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every TrueType parse fpdf2 makes from now on, by file name, starting from no parsed font."""
    seen: list[str] = []
    original = TTFFont.__init__

    def counting(self, fpdf, font_file_path, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(font_file_path.name)
        original(self, fpdf, font_file_path, *args, **kwargs)

    monkeypatch.setattr(TTFFont, "__init__", counting)
    pdf_fonts.forget()
    yield seen
    pdf_fonts.forget()


def _document(text: str, *, shared: bool) -> bytes:
    pdf = FPDF()
    pdf.set_creation_date(WHEN)
    if shared:
        pdf_fonts.use_fonts(pdf)
    else:  # what labels.py did before: fpdf2 parses both files for this document
        pdf.add_font("main", fname=str(pdf_fonts.MAIN_FONT))
        pdf.add_font("cjk", fname=str(pdf_fonts.CJK_FONT))
    pdf.set_fallback_fonts(["cjk"], exact_match=False)
    pdf.add_page()
    pdf.set_font("main", size=11)
    pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_label_sheets_parse_each_font_once_per_process(parses):
    sheet = [labels.Label("上海市第一中学", "SCH1-00001", "教室 Room A-101", "位置 Pos. 1", "", "https://x.test/r/t")]

    first = labels.render_sheet(sheet, title="QR labels")
    assert sorted(parses) == ["DejaVuSans.ttf", "DroidSansFallbackFull.ttf"]
    second = labels.render_sheet(sheet, title="QR labels")

    assert sorted(parses) == ["DejaVuSans.ttf", "DroidSansFallbackFull.ttf"]  # the second sheet parsed nothing
    assert pdf_fonts.PARSES["DroidSansFallbackFull.ttf"] >= 1
    assert "上海市第一中学" in _text(first)
    assert "上海市第一中学" in _text(second)


def test_documents_on_the_shared_parse_are_the_bytes_fpdf2_writes_on_its_own(parses):
    """fpdf2 subsets a font in place when it writes a PDF; a document must never see what an earlier one cut."""
    for text in TEXTS:
        shared = _document(text, shared=True)
        assert shared == _document(text, shared=False)
        assert _text(shared).strip() == text
    assert parses.count("DroidSansFallbackFull.ttf") == 1 + len(TEXTS)  # once shared, then each unshared document


def test_a_second_visit_report_parses_no_font(parses):
    from chalicelib.services import visit_reports
    from tests.unit.test_visit_reports import NOW, facts, full_visit, ticket

    first = visit_reports.render_pdf(visit_reports.build_technical(facts(ticket(**full_visit())), NOW))
    assert sorted(parses) == ["DejaVuSans.ttf", "DroidSansFallbackFull.ttf"]
    second = visit_reports.render_pdf(visit_reports.build_handling(facts(ticket(**full_visit())), NOW))
    labels.render_sheet([labels.Label("上海市第一中学", "A-1", "教室", "位置", "", "https://x.test/r/t")], title="QR")

    assert sorted(parses) == ["DejaVuSans.ttf", "DroidSansFallbackFull.ttf"]  # neither the report nor the sheet
    assert "故障技术报告" in _text(first)
    assert "故障处理报告" in _text(second)
