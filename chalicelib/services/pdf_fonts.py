"""The shipped fonts (chalicelib/fonts/), parsed once per process and lent to every PDF it draws.

`FPDF.add_font` parses a TrueType file on every call: for the 4 MB CJK font that is ~200 ms of
each label sheet or visit report, always the same work. `use_fonts` parses each file on first use
(fpdf2's own `TTFFont`), keeps that parse, and gives each document a copy that shares the parsed,
read-only parts (character map, widths, glyph ids, descriptor) and owns what a document changes:
its glyph subset and its own `ttfont` handle. The handle must be the document's own because fpdf2
subsets it in place when it writes the PDF; a fresh lazy `TTFont` over the bytes kept in memory
costs well under a millisecond and loads only the tables the subsetting reads.

fpdf2 and fontTools load on the first call, never at `import app` (cold start). Plain Python and
fpdf2 only: never imports chalice or boto3.
"""

from __future__ import annotations

import copy
import io
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fpdf import FPDF

FONTS_DIR = Path(__file__).resolve().parent.parent / "fonts"
MAIN_FONT = FONTS_DIR / "DejaVuSans.ttf"  # Latin, digits, punctuation
CJK_FONT = FONTS_DIR / "DroidSansFallbackFull.ttf"  # Chinese; has no Latin glyphs, hence the fallback pair
# The pair every document of the app uses: family name -> file.
APP_FONTS: Mapping[str, Path] = {"main": MAIN_FONT, "cjk": CJK_FONT}

# How many times each file was parsed in this process: tests check it stays at one.
PARSES: Counter[str] = Counter()


@dataclass(frozen=True)
class _Parsed:
    font: Any  # fpdf.fonts.TTFFont, never handed to a document itself
    data: bytes  # the file, for each document's own TTFont handle


_parsed: dict[Path, _Parsed] = {}
_lock = threading.Lock()  # the local server is threaded: two first requests parse once


def _parse(path: Path) -> _Parsed:
    from fpdf import FPDF
    from fpdf.fonts import TTFFont

    with _lock:
        if path not in _parsed:
            font = TTFFont(FPDF(), path, path.stem.lower(), "")
            if font.color_font is not None:  # a colour font keeps a document of its own: not shareable
                raise ValueError(f"{path.name} is a colour font; it cannot be shared between documents")
            # Decoded here, under the lock, so that documents only ever read the shared tables.
            font.ttfont.getGlyphOrder()
            for tag in SHARED_TABLES:
                if tag in font.ttfont:
                    for sub in getattr(font.ttfont[tag], "tables", ()):  # cmap decodes each subtable on first use
                        sub.ensureDecompiled()
            _parsed[path] = _Parsed(font, path.read_bytes())
            PARSES[path.name] += 1
        return _parsed[path]


def _lend(parsed: _Parsed, pdf: FPDF, fontkey: str) -> Any:
    from fpdf.fonts import SubsetMap, TTFFont

    font = TTFFont.__new__(TTFFont)
    for slot in TTFFont.__slots__:  # the parse, shared: cmap, cw, glyph_ids, desc, metrics ...
        if hasattr(parsed.font, slot):
            setattr(font, slot, getattr(parsed.font, slot))
    # ... and what belongs to this document.
    font.i = len(pdf.fonts) + 1
    font.fontkey = fontkey
    font.ttfont = _document_ttfont(parsed)
    font._hbfont = None
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    return font


# The tables whose decoding is the cost of a parse (a CJK font's 49,000 glyphs, their metrics and
# character map). A document gets copies that fontTools' subsetter may change as it does (it assigns
# new dicts and lists to a table's attributes), over the parsed contents, which it never changes.
SHARED_TABLES = ("glyf", "loca", "hmtx", "vmtx", "cmap")


def _document_ttfont(parsed: _Parsed) -> Any:
    from fontTools import ttLib  # type: ignore[import-untyped]  # fpdf2 depends on it; no stubs

    master = parsed.font.ttfont
    doc = ttLib.TTFont(io.BytesIO(parsed.data), recalcTimestamp=False, lazy=True)  # the rest: read as needed
    doc.setGlyphOrder(list(master.getGlyphOrder()))
    for tag in SHARED_TABLES:
        if tag in master:
            doc.tables[tag] = _table_copy(master[tag])
    return doc


def _table_copy(table: Any) -> Any:
    copied = copy.copy(table)
    if hasattr(table, "tables"):  # cmap: the subsetter reassigns each subtable's map
        copied.tables = [copy.copy(sub) for sub in table.tables]
    if hasattr(table, "glyphs"):  # glyf: a kept glyph may be remapped or trimmed in place, so copied on read
        copied.glyphs = _CopiedOnRead(table.glyphs)
        copied.glyphOrder = list(table.glyphOrder)
    return copied


class _CopiedOnRead(dict[str, Any]):
    def __getitem__(self, key: str) -> Any:
        return copy.copy(super().__getitem__(key))


def use_fonts(pdf: FPDF, fonts: Mapping[str, Path] = APP_FONTS) -> None:
    """What `pdf.add_font(family, fname=path)` does for each family, without parsing a file twice."""
    for family, path in fonts.items():
        fontkey = family.lower()
        if fontkey not in pdf.fonts:
            pdf.fonts[fontkey] = _lend(_parse(path), pdf, fontkey)


def forget() -> None:
    """Tests: drop the parsed fonts, so that the next document parses again."""
    with _lock:
        _parsed.clear()
