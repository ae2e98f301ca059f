"""GET /schools/{id}/qr-labels: the printable A4 sheet of QR labels (D-A1).

The chalice test client returns a binary body only when the request's Accept header names a
binary type (app.api.binary_types has application/pdf), as API Gateway does; hence PDF_HEADERS.
"""

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from chalicelib.services import labels
from tests.functional.factories import call, make_lamp, make_school, ok

CHINESE_NAME = "上海市第一中学"


def pdf_headers(auth, role="admin"):
    return {**auth(role), "Accept": "application/pdf"}


def get_sheet(client, auth, school_id, room_id=None, role="admin"):
    query = f"?room_id={room_id}" if room_id else ""
    return client.http.get(f"/schools/{school_id}/qr-labels{query}", headers=pdf_headers(auth, role))


def import_lamps(client, auth, school_id, count, room_id="A-101"):
    """Registers `count` lamps in one equipment-list upload (faster than one POST each)."""
    rows = ["room_id,position,model,serial,installed_on,accepted_on"]
    rows += [f"{room_id},{n},EP-LED-40,SN-{school_id[-6:]}-{n:04d},2025-08-20,2025-09-01" for n in range(1, count + 1)]
    headers = {**auth("admin"), "Content-Type": "text/csv"}
    response = client.http.post(f"/schools/{school_id}/lamps/import", headers=headers, body="\n".join(rows).encode())
    assert response.status_code == 200, response.body


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", pdf))


def test_sheet_for_a_school_with_a_chinese_name_is_a_downloadable_pdf(client, auth):
    school = make_school(client, auth, name=CHINESE_NAME)
    for position in ("1", "2", "3"):
        make_lamp(client, auth, school["school_id"], position=position)

    response = get_sheet(client, auth, school["school_id"])

    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="qr-labels-{school["code"]}.pdf"'
    assert response.body.startswith(b"%PDF-")
    assert page_count(response.body) == 1
    assert b"DroidSansFallback" in response.body  # the Chinese name is set in the shipped CJK font, subset
    assert len(response.body) < 200_000


def test_a_page_holds_21_labels_so_25_lamps_take_two_pages(client, auth):
    school = make_school(client, auth, name=CHINESE_NAME)
    import_lamps(client, auth, school["school_id"], 25)

    response = get_sheet(client, auth, school["school_id"])

    assert response.status_code == 200, response.body
    assert labels.LABELS_PER_PAGE == 21
    assert page_count(response.body) == 2


def test_each_label_shows_school_asset_number_room_position_and_the_current_report_url(client, auth):
    school = make_school(client, auth, name=CHINESE_NAME)
    kept = make_lamp(client, auth, school["school_id"], room_id="A-101", position="1")
    rotated = make_lamp(client, auth, school["school_id"], room_id="A-101", position="2")
    new_view = ok(call(client, "POST", f"/lamps/{rotated['lamp_id']}/qr-token", auth("admin")))
    assert new_view["qr_token"] != rotated["qr_token"]

    _, sheet = labels.sheet_labels(school["school_id"], None)

    by_asset = {label.asset_no: label for label in sheet}
    assert set(by_asset) == {kept["asset_no"], rotated["asset_no"]}
    for lamp, label in ((kept, by_asset[kept["asset_no"]]), (new_view, by_asset[rotated["asset_no"]])):
        assert label.lines[0] == CHINESE_NAME
        assert lamp["asset_no"] in label.lines
        assert any("A-101" in line for line in label.lines)
        assert any(line.endswith(f"Pos. {lamp['position']}") for line in label.lines)
        assert label.url == lamp["report_url"]
        assert label.url.endswith(f"/r/{lamp['qr_token']}")
    assert rotated["qr_token"] not in by_asset[rotated["asset_no"]].url  # the old label no longer resolves


def test_labels_follow_room_then_position_in_natural_order():
    def lamp(room, position, n):
        return SimpleNamespace(asset_no=f"S-{n:05d}", room_id=room, position=position, qr_token=f"t{n}")

    lamps = [lamp("A-10", "1", 1), lamp("A-2", "10", 2), lamp("A-2", "2", 3), lamp("A-2", "1", 4), lamp("B-1", "1", 5)]
    rooms = {"A-2": SimpleNamespace(room_id="A-2", building="实验楼", floor="3")}

    sheet = labels.label_contents(CHINESE_NAME, lamps, lambda token: f"https://x.test/r/{token}", rooms)

    assert [label.asset_no for label in sheet] == ["S-00004", "S-00003", "S-00002", "S-00001", "S-00005"]
    assert sheet[0].url == "https://x.test/r/t4"
    assert "实验楼 · 3F" in sheet[0].lines
    assert sheet[3].location == ""  # A-10 has no building recorded


def test_room_filter_prints_only_that_rooms_lamps(client, auth):
    school = make_school(client, auth, name=CHINESE_NAME)
    for position in ("1", "2"):
        make_lamp(client, auth, school["school_id"], room_id="A-101", position=position)
    wanted = {
        make_lamp(client, auth, school["school_id"], room_id="B-201", position=p)["asset_no"] for p in ("1", "2", "3")
    }

    _, sheet = labels.sheet_labels(school["school_id"], "B-201")
    response = get_sheet(client, auth, school["school_id"], room_id="B-201")

    assert {label.asset_no for label in sheet} == wanted
    assert response.status_code == 200, response.body
    assert response.body.startswith(b"%PDF-")
    assert f'filename="qr-labels-{school["code"]}-B-201.pdf"' in response.headers["Content-Disposition"]


def test_unknown_school_is_a_404_json_error(client, auth):
    code, body = call(client, "GET", "/schools/no-such-school/qr-labels", pdf_headers(auth))

    assert code == 404
    assert body["error"]["code"] == "not_found"
    assert "no-such-school" in body["error"]["message"]


def test_unknown_room_is_a_404_naming_the_room(client, auth):
    school = make_school(client, auth, name=CHINESE_NAME)
    make_lamp(client, auth, school["school_id"], room_id="A-101", position="1")

    code, body = call(client, "GET", f"/schools/{school['school_id']}/qr-labels?room_id=Z-999", pdf_headers(auth))

    assert code == 404
    assert body["error"]["code"] == "not_found"
    assert "Z-999" in body["error"]["message"]


def test_school_without_installed_lamps_is_a_404_not_an_empty_sheet(client, auth):
    school = make_school(client, auth, name=CHINESE_NAME)

    code, body = call(client, "GET", f"/schools/{school['school_id']}/qr-labels", pdf_headers(auth))

    assert code == 404
    assert "no installed lamps" in body["error"]["message"]


def test_engineer_cannot_print_labels(client, auth):
    school = make_school(client, auth, name=CHINESE_NAME)
    make_lamp(client, auth, school["school_id"], position="1")

    code, body = call(client, "GET", f"/schools/{school['school_id']}/qr-labels", pdf_headers(auth, "engineer"))

    assert code == 403
    assert body["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    "name", ["上海市浦东新区第一实验学校附属小学（东校区）国际部双语实验班", "Ecole Ste-Thérèse 😀 𠀋"]
)
def test_long_names_and_characters_no_font_has_still_print(client, auth, name):
    school = make_school(client, auth, name=name)
    make_lamp(client, auth, school["school_id"], position="1", building="实验楼", floor="3")

    response = get_sheet(client, auth, school["school_id"])

    assert response.status_code == 200, response.body
    assert response.body.startswith(b"%PDF-")


def test_qr_modules_are_drawn_as_merged_runs_that_cover_exactly_the_dark_modules():
    import segno

    matrix = segno.make("http://127.0.0.1:8000/r/" + "x" * 22, error="m", micro=False).matrix
    rects = labels.dark_rectangles(matrix)

    painted = {(col + dc, row + dr) for col, row, w, h in rects for dc in range(w) for dr in range(h)}
    dark = {(c, r) for r, line in enumerate(matrix) for c, module in enumerate(line) if module}
    assert painted == dark
    assert sum(w * h for _, _, w, h in rects) == len(dark)  # no overlaps
    assert len(rects) < len(dark) / 2


def test_importing_the_app_does_not_load_the_pdf_and_qr_libraries():
    root = Path(__file__).resolve().parents[2]
    probe = "import sys, app; print(sorted(m for m in ('fpdf', 'segno', 'fontTools') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
