"""Printable A4 sheets of QR labels, one per installed lamp (D-A1: each lamp carries a QR label).

A label's QR code holds the lamp's report URL with its *current* token: labels printed before a
token rotation stop working and must be reprinted.

fpdf2 and segno are imported inside `render_sheet` only, so `import app` never pays for them
(cold start). The text is set in two fonts shipped in `chalicelib/fonts/` (see its README), parsed once per
process by `pdf_fonts`: fpdf2's built-in fonts are Latin-1 only and would raise on a Chinese school name.
Never imports chalice or boto3.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.errors import NotFound
from chalicelib.models import access
from chalicelib.models.access import SchoolModel
from chalicelib.services import pdf_fonts
from chalicelib.services.registry import report_url

if TYPE_CHECKING:
    from fpdf import FPDF


# A4 portrait cut into 3 x 7 labels of 66.7 x 41 mm inside a 5 mm margin that office printers
# can reach (full-bleed 70 x 42.4 cells would put the outer labels' text into the unprintable edge).
PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 5.0
COLUMNS, ROWS = 3, 7
LABELS_PER_PAGE = COLUMNS * ROWS
CELL_W, CELL_H = (PAGE_W - 2 * MARGIN) / COLUMNS, (PAGE_H - 2 * MARGIN) / ROWS
QUIET_ZONE = 4  # modules of white around the symbol (ISO/IEC 18004)
CELL_PAD = 1.0  # mm between the cell edge (the cutting line) and the QR code's quiet zone
# The square taken by symbol + quiet zone. A report URL needs version 3 or more, so the symbol
# itself is 30.6 mm or larger: readable from arm's length under a classroom ceiling.
QR_BOX = CELL_H - 2 * CELL_PAD
TEXT_X = CELL_PAD + QR_BOX + 1.5  # the text column, right of the QR code
TEXT_W = CELL_W - TEXT_X - 1.5
PT = 25.4 / 72  # mm per point

FOOTER = "扫码报修 · Scan to report"


class LampLike(Protocol):
    asset_no: str
    room_id: str
    position: str
    qr_token: str


class RoomLike(Protocol):
    room_id: str
    building: str
    floor: str


@dataclass(frozen=True)
class Label:
    """What one label says, in print order, and the URL its QR code encodes."""

    school: str
    asset_no: str
    room: str
    position: str
    location: str  # building / floor, "" when the room has none recorded
    url: str

    @property
    def lines(self) -> list[str]:
        return [line for line in (self.school, self.asset_no, self.room, self.position, self.location) if line]


_DIGITS = re.compile(r"(\d+)", re.ASCII)


def natural_key(text: str) -> list[int | str]:
    """'A-2' sorts before 'A-10'. re.split with a group alternates text and digit runs, so the
    same positions always hold the same type and the lists compare safely."""
    return [int(part) if i % 2 else part.casefold() for i, part in enumerate(_DIGITS.split(text))]


def _location(room: RoomLike | None) -> str:
    if room is None:
        return ""
    floor = f"{room.floor}F" if room.floor.isdecimal() else room.floor
    return " · ".join(part for part in (room.building, floor) if part)


def label_contents(
    school_name: str,
    lamps: Iterable[LampLike],
    url_for: Callable[[str], str],
    rooms: Mapping[str, RoomLike] | None = None,
) -> list[Label]:
    """One label per lamp, sorted by room then position in natural order."""
    rooms = rooms or {}
    ordered = sorted(lamps, key=lambda lamp: (natural_key(lamp.room_id), natural_key(lamp.position), lamp.asset_no))
    return [
        Label(
            school=school_name,
            asset_no=lamp.asset_no,
            room=f"教室 Room {lamp.room_id}",
            position=f"位置 Pos. {lamp.position}",
            location=_location(rooms.get(lamp.room_id)),
            url=url_for(lamp.qr_token),
        )
        for lamp in ordered
    ]


def label_sheet(school_id: str, room_id: str | None) -> tuple[bytes, str]:
    """The PDF for a school's installed lamps (or one room's) and its download file name."""
    school, labels = sheet_labels(school_id, room_id)
    filename = f"qr-labels-{school.code}-{room_id}.pdf" if room_id else f"qr-labels-{school.code}.pdf"
    return render_sheet(labels, title=f"QR labels {school.name}"), filename


def sheet_labels(school_id: str, room_id: str | None) -> tuple[SchoolModel, list[Label]]:
    """What the sheet will print. Gets and Queries only, never a Scan: by_location holds installed lamps."""
    school = access.get_school(school_id)
    lamps = access.all_lamps_in_school(school_id, room_id)
    if not lamps:
        if room_id:
            access.get_room(school_id, room_id)  # an unknown room says so
            raise NotFound(f"room '{room_id}' of school '{school_id}' has no installed lamps to label")
        raise NotFound(f"school '{school_id}' has no installed lamps to label")
    rooms = {room.room_id: room for room in access.query_rooms(school_id)}
    return school, label_contents(school.name, lamps, report_url, rooms)


# ---- drawing --------------------------------------------------------------------------------

Rect = tuple[int, int, int, int]  # column, row, width, height, in modules


def dark_rectangles(matrix: Sequence[Sequence[int]]) -> list[Rect]:
    """Covers exactly the dark modules with few rectangles: each row's runs of dark modules, and a
    run repeated unchanged on the rows below grows downwards instead of starting a new rectangle.
    Fewer operators keep the PDF small (and leave no seams between rows in a viewer)."""
    growing: dict[tuple[int, int], list[int]] = {}  # (first, end) column -> [col, row, width, height]
    done: list[Rect] = []
    for r, row in enumerate(matrix):
        runs = set(_runs(row))
        for span in [span for span in growing if span not in runs]:
            done.append(_rect(growing.pop(span)))
        for first, end in runs:
            if (first, end) in growing:
                growing[(first, end)][3] += 1
            else:
                growing[(first, end)] = [first, r, end - first, 1]
    done.extend(_rect(g) for g in growing.values())
    return sorted(done, key=lambda rect: (rect[1], rect[0]))


def _runs(row: Sequence[int]) -> Iterator[tuple[int, int]]:
    c, width = 0, len(row)
    while c < width:
        if not row[c]:
            c += 1
            continue
        first = c
        while c < width and row[c]:
            c += 1
        yield first, c


def _rect(g: list[int]) -> Rect:
    return g[0], g[1], g[2], g[3]


def render_sheet(labels: Sequence[Label], title: str) -> bytes:
    import segno
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.c_margin = 0
    pdf.set_title(title)
    pdf.set_creator("lampcare")
    pdf_fonts.use_fonts(pdf)  # "main" and "cjk", parsed once per process
    pdf.set_fallback_fonts(["cjk"], exact_match=False)
    pdf.set_font("main", size=8)
    sheet = _Sheet(pdf)
    for i, label in enumerate(labels):
        if i % LABELS_PER_PAGE == 0:
            pdf.add_page()
            sheet.cutting_grid()
        x = MARGIN + (i % COLUMNS) * CELL_W
        y = MARGIN + (i // COLUMNS % ROWS) * CELL_H
        # boost_error raises the level above M whenever that fits in the same symbol size.
        qr = segno.make(label.url, error="m", boost_error=True, micro=False)
        sheet.qr(qr.matrix, x + CELL_PAD, y + CELL_PAD)
        sheet.text(label, x + TEXT_X, y)
    return bytes(pdf.output())


class _Sheet:
    def __init__(self, pdf: FPDF):
        self.pdf = pdf
        self._fits: dict[tuple[str, tuple[float, ...], int], tuple[float, list[str]]] = {}

    def cutting_grid(self) -> None:
        pdf = self.pdf
        pdf.set_draw_color(190)
        pdf.set_line_width(0.1)
        pdf.set_dash_pattern(dash=1, gap=1.5)
        for col in range(COLUMNS + 1):
            pdf.line(MARGIN + col * CELL_W, MARGIN, MARGIN + col * CELL_W, PAGE_H - MARGIN)
        for row in range(ROWS + 1):
            pdf.line(MARGIN, MARGIN + row * CELL_H, PAGE_W - MARGIN, MARGIN + row * CELL_H)
        pdf.set_dash_pattern()

    def qr(self, matrix: Sequence[Sequence[int]], x: float, y: float) -> None:
        """Vector modules, sharp at any print resolution; the quiet zone is the white left around them."""
        module = QR_BOX / (len(matrix) + 2 * QUIET_ZONE)
        left, top = x + QUIET_ZONE * module, y + QUIET_ZONE * module
        self.pdf.set_fill_color(0)
        for col, row, width, height in dark_rectangles(matrix):
            self.pdf.rect(left + col * module, top + row * module, width * module, height * module, style="F")

    def text(self, label: Label, x: float, y: float) -> None:
        pdf = self.pdf
        pdf.set_text_color(0)
        cursor = y + 3.0
        blocks: list[tuple[str, tuple[float, ...], int, float]] = [
            # text, font sizes to try (pt, largest first), max lines (0: never cut), space after (mm)
            (label.school, (8, 7, 6.5, 6), 3, 1.2),
            (label.asset_no, (12, 11, 10, 9, 8, 7, 6), 0, 1.0),
            (label.room, (7, 6.5, 6), 1, 0.4),
            (label.position, (7, 6.5, 6), 1, 0.4),
            (label.location, (7, 6.5, 6), 1, 0.0),
        ]
        for text, sizes, max_lines, after in blocks:
            if not text:
                continue
            size, lines = self._fit(text, sizes, max_lines)
            pdf.set_font_size(size)
            for line in lines:
                pdf.set_xy(x, cursor)
                pdf.cell(TEXT_W, size * PT * 1.2, line)
                cursor += size * PT * 1.2
            cursor += after
        size, lines = self._fit(FOOTER, (5.5, 5), 1)
        pdf.set_font_size(size)
        pdf.set_text_color(90)
        pdf.set_xy(x, y + CELL_H - 3.0 - size * PT * 1.2)
        pdf.cell(TEXT_W, size * PT * 1.2, lines[0])

    def _fit(self, text: str, sizes: tuple[float, ...], max_lines: int) -> tuple[float, list[str]]:
        """The largest size at which `text` fits the text column in `max_lines`. At the smallest size,
        the lines that fit, ending in an ellipsis: a long name must never spill onto the next label.
        max_lines 0 (the asset number, which must be read whole): one line, else wrapped at the smallest size.
        Remembered per sheet: every label repeats the school name and most repeat a room."""
        key = (text, sizes, max_lines)
        if key not in self._fits:
            self._fits[key] = self._measure(text, sizes, max_lines)
        return self._fits[key]

    def _measure(self, text: str, sizes: tuple[float, ...], max_lines: int) -> tuple[float, list[str]]:
        pdf = self.pdf
        lines: list[str] = []
        for size in sizes:
            pdf.set_font_size(size)
            measured: Any = pdf.multi_cell(TEXT_W, text=text, dry_run=True, output="LINES")  # LINES: list[str]
            lines = [str(line) for line in measured]
            if len(lines) <= max(max_lines, 1):
                return size, lines
        if not max_lines:
            return sizes[-1], lines
        kept = lines[:max_lines]
        last = kept[-1].rstrip()
        while last and pdf.get_string_width(last + "…") > TEXT_W:
            last = last[:-1]
        kept[-1] = last + "…"
        return sizes[-1], kept
