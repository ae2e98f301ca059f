"""POST /schools/{id}/lamps/import: a school's equipment list, CSV or XLSX, registered in bulk (D-A1).

Rows are reported as a spreadsheet numbers them (the header is row 1). The default mode
(`partial`) writes the good rows and reports the bad ones; `mode=all_or_nothing` writes
nothing when any row is bad. Importing the same list again is idempotent by serial.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import time

import pytest

from tests.functional.factories import call, make_lamp, make_school, ok

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = [
    "room_id",
    "building",
    "floor",
    "position",
    "model",
    "serial",
    "batch",
    "configuration",
    "installed_on",
    "accepted_on",
]
URL_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,}$")

# Three lamps in two rooms, as a supplier's equipment list would list them.
ROWS = [
    [
        "A-101",
        "Teaching block",
        "1",
        "1",
        "EP-LED-40",
        "SN-A-0001",
        "2025-B07",
        "36W 4000K",
        "2025-08-18",
        "2025-09-01",
    ],
    [
        "A-101",
        "Teaching block",
        "1",
        "2",
        "EP-LED-40",
        "SN-A-0002",
        "2025-B07",
        "36W 4000K",
        "2025-08-18",
        "2025-09-01",
    ],
    ["B-201", "Lab block", "2", "1", "EP-BB-60", "SN-A-0003", "2025-B08", "blackboard", "2025-08-19", "2025-09-02"],
]


def csv_body(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    return ("\n".join(",".join(cells) for cells in [header, *rows]) + "\n").encode()


def xlsx_body(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def post_import(
    client, auth, school_id, body: bytes, content_type: str = CSV, mode: str | None = None, role: str = "admin"
):
    query = f"?mode={mode}" if mode else ""
    response = client.http.post(
        f"/schools/{school_id}/lamps/import{query}", headers={**auth(role), "Content-Type": content_type}, body=body
    )
    payload = response.json_body if response.body else None
    return response.status_code, payload


def installed_lamps(client, auth, school_id, limit: int = 200) -> list[dict]:
    """Every lamp the school listing shows, following the cursor."""
    lamps, cursor = [], None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = ok(call(client, "GET", f"/schools/{school_id}/lamps{query}", auth("manager")))
        lamps += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return lamps


def by_serial(lamps: list[dict]) -> dict[str, dict]:
    return {lamp["serial"]: lamp for lamp in lamps}


def assert_registered_as_listed(client, auth, school: dict, rows: list[list[str]]) -> dict[str, dict]:
    """The school's listing shows exactly these rows, each with its fields, a QR label and its warranty."""
    listed = by_serial(installed_lamps(client, auth, school["school_id"]))
    assert set(listed) == {row[5] for row in rows}
    for room_id, _building, _floor, position, model, serial, batch, configuration, installed, accepted in rows:
        lamp = listed[serial]
        assert (lamp["room_id"], lamp["position"], lamp["model"]) == (room_id, position, model)
        assert (lamp["batch"], lamp["configuration"]) == (batch, configuration)
        assert (lamp["installed_on"], lamp["accepted_on"]) == (installed, accepted)
        assert lamp["status"] == "in_service"
        assert lamp["school_id"] == school["school_id"]
        # D-W1: five years (the default contract) from the acceptance date, not the installation date
        accepted_on = dt.date.fromisoformat(accepted)
        assert lamp["warranty"]["ends_on"] == accepted_on.replace(year=accepted_on.year + 5).isoformat()
        assert lamp["warranty"]["in_warranty"] is True
        assert URL_SAFE_TOKEN.match(lamp["qr_token"])
        assert lamp["report_url"].endswith(f"/r/{lamp['qr_token']}")
        assert lamp["asset_no"].startswith(f"{school['code']}-")
    assert len({lamp["qr_token"] for lamp in listed.values()}) == len(rows)
    assert len({lamp["asset_no"] for lamp in listed.values()}) == len(rows)
    return listed


def assert_nothing_registered(client, auth, school: dict) -> None:
    assert installed_lamps(client, auth, school["school_id"]) == []
    assert ok(call(client, "GET", f"/schools/{school['school_id']}", auth("manager")))["rooms"] == []


# ---- a good list ------------------------------------------------------------------------------


def test_csv_import_registers_lamps_with_qr_labels_rooms_and_warranty_end(client, auth):
    school = make_school(client, auth)

    code, report = post_import(client, auth, school["school_id"], csv_body(ROWS), role="dispatcher")

    assert code == 200, report
    assert report == {"mode": "partial", "rows": 3, "created": 3, "unchanged": 0, "failed": 0, "errors": []}
    listed = assert_registered_as_listed(client, auth, school, ROWS)
    assert sorted(lamp["asset_no"] for lamp in listed.values()) == [
        f"{school['code']}-00001",
        f"{school['code']}-00002",
        f"{school['code']}-00003",
    ]

    lamp = listed["SN-A-0003"]
    assert ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth("engineer"))) == lamp
    room_b = ok(call(client, "GET", f"/schools/{school['school_id']}/lamps?room_id=B-201", auth("manager")))
    assert [item["serial"] for item in room_b["items"]] == ["SN-A-0003"]

    # the label works: a scan finds the lamp
    scanned = ok(call(client, "GET", f"/r/{lamp['qr_token']}", {}))
    assert scanned["lamp"]["asset_no"] == lamp["asset_no"]
    assert scanned["lamp"]["room_id"] == "B-201"

    # the rooms the list names now exist, with their building and floor
    rooms = ok(call(client, "GET", f"/schools/{school['school_id']}", auth("manager")))["rooms"]
    assert {(r["room_id"], r["building"], r["floor"]) for r in rooms} == {
        ("A-101", "Teaching block", "1"),
        ("B-201", "Lab block", "2"),
    }

    # D-A2: the maintenance record starts with the registration, by whoever imported the list
    history = ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}/history", auth("manager")))["items"]
    assert [(h["kind"], h["actor"]) for h in history] == [("registered", "user-dispatcher")]


def test_xlsx_import_gives_the_same_lamps_as_the_csv(client, auth):
    school = make_school(client, auth)
    # As a spreadsheet holds them: a human header, dates as dates, numbers as numbers
    header = [
        "Room ID",
        "Building",
        "Floor",
        "Position",
        "Model",
        "Serial",
        "Batch",
        "Configuration",
        "Installed On",
        "Accepted On",
    ]
    cells = [
        [
            room,
            building,
            int(floor),
            int(position),
            model,
            serial,
            batch,
            configuration,
            dt.date.fromisoformat(installed),
            dt.datetime.fromisoformat(accepted),
        ]
        for room, building, floor, position, model, serial, batch, configuration, installed, accepted in ROWS
    ]
    cells[0][5] = 20250001  # a numeric serial, which Excel stores as a number
    expected = [list(row) for row in ROWS]
    expected[0][5] = "20250001"

    code, report = post_import(client, auth, school["school_id"], xlsx_body([header, *cells]), XLSX)

    assert code == 200, report
    assert report == {"mode": "partial", "rows": 3, "created": 3, "unchanged": 0, "failed": 0, "errors": []}
    assert_registered_as_listed(client, auth, school, expected)
    rooms = ok(call(client, "GET", f"/schools/{school['school_id']}", auth("manager")))["rooms"]
    assert {(r["room_id"], r["building"], r["floor"]) for r in rooms} == {
        ("A-101", "Teaching block", "1"),
        ("B-201", "Lab block", "2"),
    }


def test_excel_csv_export_with_byte_order_mark_and_spaced_headers_is_read(client, auth):
    school = make_school(client, auth)
    header = [
        "Room ID",
        "Building",
        "Floor",
        "Position",
        "Model",
        "Serial",
        "Batch",
        "Configuration",
        "Installed On",
        "Accepted On",
    ]
    body = b"\xef\xbb\xbf" + csv_body(ROWS, header).replace(b"\n", b"\r\n")

    code, report = post_import(client, auth, school["school_id"], body, "text/csv; charset=utf-8")

    assert code == 200, report
    assert report["created"] == 3
    assert_registered_as_listed(client, auth, school, ROWS)


# ---- idempotent by serial ---------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [CSV, XLSX])
def test_reimporting_the_same_list_creates_nothing_and_keeps_ids_and_qr_tokens(client, auth, content_type):
    school = make_school(client, auth)
    body = csv_body(ROWS) if content_type == CSV else xlsx_body([HEADER, *ROWS])
    ok(post_import(client, auth, school["school_id"], body, content_type))
    before = by_serial(installed_lamps(client, auth, school["school_id"]))

    code, report = post_import(client, auth, school["school_id"], body, content_type)

    assert code == 200, report
    assert report == {"mode": "partial", "rows": 3, "created": 0, "unchanged": 3, "failed": 0, "errors": []}
    after = by_serial(installed_lamps(client, auth, school["school_id"]))
    assert {s: (lamp["lamp_id"], lamp["qr_token"], lamp["asset_no"]) for s, lamp in after.items()} == {
        s: (lamp["lamp_id"], lamp["qr_token"], lamp["asset_no"]) for s, lamp in before.items()
    }
    lamp_id = before["SN-A-0001"]["lamp_id"]
    history = ok(call(client, "GET", f"/lamps/{lamp_id}/history", auth("manager")))["items"]
    assert [h["kind"] for h in history] == ["registered"]  # registered once, not once per upload


def test_a_longer_list_imported_again_adds_only_the_new_rows(client, auth):
    school = make_school(client, auth)
    ok(post_import(client, auth, school["school_id"], csv_body(ROWS[:2])))
    by_hand = make_lamp(client, auth, school["school_id"], room_id="B-201", position="1", serial="SN-A-0003")

    code, report = post_import(client, auth, school["school_id"], csv_body(ROWS))

    assert code == 200, report
    assert (report["created"], report["unchanged"], report["failed"]) == (0, 3, 0)

    extra = ["C-301", "", "", "1", "EP-LED-40", "SN-A-0004", "", "", "2025-08-20", "2025-09-03"]
    code, report = post_import(client, auth, school["school_id"], csv_body([*ROWS, extra]))

    assert code == 200, report
    assert (report["created"], report["unchanged"], report["failed"]) == (1, 3, 0)
    listed = by_serial(installed_lamps(client, auth, school["school_id"]))
    assert set(listed) == {"SN-A-0001", "SN-A-0002", "SN-A-0003", "SN-A-0004"}
    assert listed["SN-A-0003"]["lamp_id"] == by_hand["lamp_id"]
    assert listed["SN-A-0004"]["asset_no"] == f"{school['code']}-00004"


def test_a_list_that_puts_a_registered_lamp_elsewhere_is_reported_not_silently_ignored(client, auth):
    """The installer corrects a room in the list and imports again: the lamp is not moved by import,
    and the report says so on that row instead of counting it as unchanged."""
    school = make_school(client, auth)
    ok(post_import(client, auth, school["school_id"], csv_body(ROWS)))
    corrected = [list(row) for row in ROWS]
    corrected[1][HEADER.index("room_id")] = "A-102"

    code, report = post_import(client, auth, school["school_id"], csv_body(corrected))

    assert code == 200, report
    assert (report["created"], report["unchanged"], report["failed"]) == (0, 2, 1)
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(3, "room_id")]
    assert "registered in room A-101 at position 2" in report["errors"][0]["problem"]
    assert by_serial(installed_lamps(client, auth, school["school_id"]))["SN-A-0002"]["room_id"] == "A-101"


# ---- row-level errors -------------------------------------------------------------------------


def good_row(serial: str, position: str = "1", room: str = "A-101") -> list[str]:
    return [room, "", "", position, "EP-LED-40", serial, "", "", "2025-08-18", "2025-09-01"]


def test_bad_rows_are_reported_by_row_column_and_problem_and_the_good_rows_are_imported(client, auth):
    school = make_school(client, auth)
    elsewhere = make_school(client, auth)
    other_schools_lamp = make_lamp(client, auth, elsewhere["school_id"], serial="SN-TAKEN")

    def row(**changes: str) -> list[str]:
        cells = dict(zip(HEADER, good_row("SN-X"), strict=True))
        cells.update(changes)
        return [cells[c] for c in HEADER]

    lines = [
        good_row("SN-GOOD-1", "1"),  # row 2
        row(serial="", position="2"),  # row 3: serial missing
        row(serial="SN-BAD-DATE", installed_on="2025-02-30"),  # row 4: no such day
        good_row("SN-GOOD-1", "4"),  # row 5: same serial as row 2
        row(serial="SN-NOT-A-DATE", accepted_on="next week"),  # row 6: not a date at all
        [""] * len(HEADER),  # row 7: blank line, skipped
        row(serial="SN-BAD-ROOM", room_id="A 101"),  # row 8: not a room code
        row(serial="SN-EARLY", installed_on="2025-09-10", accepted_on="2025-09-01"),  # row 9: accepted before installed
        good_row("SN-GOOD-2", "2", room="B-201"),  # row 10
        row(serial="SN-TAKEN"),  # row 11: registered at another school
        row(serial="SN-NO-MODEL", model="", position=""),  # row 12: two problems in one row
    ]

    code, report = post_import(client, auth, school["school_id"], csv_body(lines))

    assert code == 200, report
    assert [(e["row"], e["column"]) for e in report["errors"]] == [
        (3, "serial"),
        (4, "installed_on"),
        (5, "serial"),
        (6, "accepted_on"),
        (8, "room_id"),
        (9, "accepted_on"),
        (11, "serial"),
        (12, "model"),
        (12, "position"),
    ]
    assert all(e["problem"].strip() for e in report["errors"])
    problems = {(e["row"], e["column"]): e["problem"] for e in report["errors"]}
    assert problems[(5, "serial")] == "duplicate of row 2"
    assert "before installed_on" in problems[(9, "accepted_on")]
    assert "another school" in problems[(11, "serial")]
    assert report["rows"] == 10  # the blank line is not a row
    assert (report["created"], report["unchanged"], report["failed"]) == (2, 0, 8)

    listed = by_serial(installed_lamps(client, auth, school["school_id"]))
    assert set(listed) == {"SN-GOOD-1", "SN-GOOD-2"}
    assert listed["SN-GOOD-1"]["position"] == "1"  # the first occurrence, not the duplicate
    assert (
        ok(call(client, "GET", f"/lamps/{other_schools_lamp['lamp_id']}", auth("manager")))["school_id"]
        == elsewhere["school_id"]
    )


def test_xlsx_rows_are_numbered_as_the_spreadsheet_shows_them(client, auth):
    school = make_school(client, auth)
    rows = [HEADER, good_row("SN-1"), [None] * len(HEADER), good_row("SN-2", "2"), good_row("", "3")]

    code, report = post_import(client, auth, school["school_id"], xlsx_body(rows), XLSX)

    assert code == 200, report
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(5, "serial")]
    assert report["created"] == 2


def test_a_number_in_a_date_column_is_reported_not_read_as_a_1970_date(client, auth):
    school = make_school(client, auth)
    row = good_row("SN-ZERO-DATE")
    row[HEADER.index("installed_on")], row[HEADER.index("accepted_on")] = "0", "86400"

    code, report = post_import(client, auth, school["school_id"], csv_body([row]))

    assert code == 200, report
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(2, "accepted_on"), (2, "installed_on")]
    assert report["created"] == 0


# ---- all or nothing -----------------------------------------------------------------------------


def test_all_or_nothing_rejects_the_list_with_its_report_and_writes_nothing(client, auth):
    school = make_school(client, auth)
    bad = good_row("SN-3", "3")
    bad[HEADER.index("installed_on")] = "2025-13-01"
    lines = [good_row("SN-1", "1"), good_row("SN-2", "2", room="B-201"), bad, good_row("SN-4", "4")]

    code, body = post_import(client, auth, school["school_id"], csv_body(lines), mode="all_or_nothing")

    assert code == 422, body
    assert body["error"]["code"] == "import_rejected"
    assert "nothing was imported" in body["error"]["message"]
    assert [(r["row"], r["column"]) for r in body["error"]["rows"]] == [(4, "installed_on")]
    assert body["error"]["rows"][0]["problem"]
    assert_nothing_registered(client, auth, school)

    # the corrected list goes in whole, numbered from the first asset number: the rejection used none
    lines[2] = good_row("SN-3", "3")
    code, report = post_import(client, auth, school["school_id"], csv_body(lines), mode="all_or_nothing")

    assert code == 200, report
    assert report == {"mode": "all_or_nothing", "rows": 4, "created": 4, "unchanged": 0, "failed": 0, "errors": []}
    listed = by_serial(installed_lamps(client, auth, school["school_id"]))
    assert sorted(lamp["asset_no"] for lamp in listed.values()) == [f"{school['code']}-{n:05d}" for n in range(1, 5)]


def test_all_or_nothing_rejects_a_serial_already_registered_at_another_school(client, auth):
    school = make_school(client, auth)
    elsewhere = make_school(client, auth)
    make_lamp(client, auth, elsewhere["school_id"], serial="SN-TAKEN")

    code, body = post_import(
        client,
        auth,
        school["school_id"],
        csv_body([good_row("SN-NEW"), good_row("SN-TAKEN", "2")]),
        mode="all_or_nothing",
    )

    assert code == 422, body
    assert [(r["row"], r["column"]) for r in body["error"]["rows"]] == [(3, "serial")]
    assert_nothing_registered(client, auth, school)


def test_unknown_mode_is_a_400_naming_the_parameter(client, auth):
    school = make_school(client, auth)

    code, body = post_import(client, auth, school["school_id"], csv_body(ROWS), mode="best_effort")

    assert code == 400
    assert [d["field"] for d in body["error"]["details"]] == ["query.mode"]
    assert_nothing_registered(client, auth, school)


# ---- what is not an equipment list ------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "application/pdf"])
def test_unsupported_content_type_is_a_415_json_error(client, auth, content_type):
    school = make_school(client, auth)

    code, body = post_import(client, auth, school["school_id"], csv_body(ROWS), content_type)

    assert code == 415
    assert body["error"]["code"] == "unsupported_media_type"
    assert body["error"]["message"]
    assert_nothing_registered(client, auth, school)


@pytest.mark.parametrize(("content_type", "body"), [(CSV, b""), (CSV, b"\r\n\r\n"), (XLSX, None)])
def test_empty_file_is_a_422_saying_the_header_row_is_missing(client, auth, content_type, body):
    school = make_school(client, auth)
    body = xlsx_body([]) if body is None else body

    code, reply = post_import(client, auth, school["school_id"], body, content_type)

    assert code == 422, reply
    assert reply["error"]["code"] == "invalid_input"
    assert reply["error"]["details"][0]["problem"] in {"no header row", "column missing from row 1"}
    assert_nothing_registered(client, auth, school)


@pytest.mark.parametrize("content_type", [CSV, XLSX])
def test_missing_header_columns_are_a_422_naming_each_column(client, auth, content_type):
    school = make_school(client, auth)
    header = [c for c in HEADER if c not in ("serial", "accepted_on")]
    rows = [[cell for column, cell in zip(HEADER, row, strict=True) if column in header] for row in ROWS]
    body = csv_body(rows, header) if content_type == CSV else xlsx_body([header, *rows])

    code, reply = post_import(client, auth, school["school_id"], body, content_type)

    assert code == 422, reply
    assert {d["field"] for d in reply["error"]["details"]} == {"serial", "accepted_on"}
    assert all(d["problem"] == "column missing from row 1" for d in reply["error"]["details"])
    assert_nothing_registered(client, auth, school)


def test_a_file_that_is_not_a_workbook_is_a_422(client, auth):
    school = make_school(client, auth)

    code, reply = post_import(client, auth, school["school_id"], csv_body(ROWS), XLSX)

    assert code == 422, reply
    assert "XLSX" in reply["error"]["message"]
    assert_nothing_registered(client, auth, school)


def test_a_gbk_csv_as_chinese_excel_saves_it_imports_with_its_chinese_text(client, auth):
    school = make_school(client, auth)
    row = good_row("SN-GBK-1", room="A-101")
    row[HEADER.index("building")], row[HEADER.index("model")] = "教学楼", "护眼灯 EP-40"
    body = csv_body([row]).decode("utf-8").encode("gbk")

    code, report = post_import(client, auth, school["school_id"], body)

    assert code == 200, report
    assert (report["created"], report["errors"]) == (1, [])
    lamp = ok(call(client, "GET", f"/schools/{school['school_id']}/lamps", auth()))["items"][0]
    assert lamp["model"] == "护眼灯 EP-40"
    rooms = ok(call(client, "GET", f"/schools/{school['school_id']}", auth()))["rooms"]
    assert rooms[0]["building"] == "教学楼"


def test_a_csv_in_neither_utf8_nor_gbk_is_a_422_naming_the_encodings(client, auth):
    school = make_school(client, auth)
    body = csv_body([good_row("SN-1", room="A-101")]).replace(b"EP-LED-40", b"\x81\x20\xff")

    code, reply = post_import(client, auth, school["school_id"], body)

    assert code == 422, reply
    assert "UTF-8 or GBK" in reply["error"]["message"]
    assert_nothing_registered(client, auth, school)


# ---- who may import, and where ------------------------------------------------------------------


def test_engineer_cannot_import_and_anonymous_callers_are_401(client, auth):
    school = make_school(client, auth)

    code, body = post_import(client, auth, school["school_id"], csv_body(ROWS), role="engineer")
    assert code == 403
    assert body["error"]["code"] == "forbidden"

    response = client.http.post(
        f"/schools/{school['school_id']}/lamps/import", headers={"Content-Type": CSV}, body=csv_body(ROWS)
    )
    assert response.status_code == 401
    assert response.json_body["error"]["code"] == "unauthenticated"
    assert_nothing_registered(client, auth, school)


def test_import_into_an_unknown_school_is_a_404(client, auth):
    code, body = post_import(client, auth, "s_nosuchschool", csv_body(ROWS))

    assert code == 404
    assert "s_nosuchschool" in body["error"]["message"]


# ---- a whole district's list ----------------------------------------------------------------------

BULK_ROWS = 10_000
LAMPS_PER_ROOM = 40


def test_ten_thousand_rows_are_imported_in_one_request(client, auth):
    """The largest list a project ships in one go (the benchmark's 10,000-row import).

    Runs in the normal suite (about 25 s on 2 cores): the whole-table copies moto makes per
    transaction item without local_aws.moto_patches.fast_transactions would make it take hours,
    and a quadratic regression in the import would show up here. The count is checked through
    the report, one room's listing and a sample of getLamp, not by paging 10,000 lamps.
    """
    school = make_school(client, auth)
    lines = ["room_id,building,floor,position,model,serial,batch,installed_on,accepted_on"]
    for n in range(BULK_ROWS):
        room, position = divmod(n, LAMPS_PER_ROOM)
        lines.append(
            f"R{room:03d},Main,{room // 10 + 1},{position + 1},EP-LED-40,BULK{n:06d},2025-B07,2025-08-18,2025-09-01"
        )
    body = ("\n".join(lines) + "\n").encode()

    started = time.perf_counter()
    code, report = post_import(client, auth, school["school_id"], body)
    elapsed = time.perf_counter() - started

    assert code == 200, report
    assert report == {
        "mode": "partial",
        "rows": BULK_ROWS,
        "created": BULK_ROWS,
        "unchanged": 0,
        "failed": 0,
        "errors": [],
    }
    print(f"10,000-row import: {elapsed:.1f} s")
    assert elapsed < 120, f"10,000-row import took {elapsed:.0f} s"

    last_room = ok(call(client, "GET", f"/schools/{school['school_id']}/lamps?room_id=R249&limit=200", auth("manager")))
    assert last_room["next_cursor"] is None
    assert sorted(lamp["serial"] for lamp in last_room["items"]) == [f"BULK{n:06d}" for n in range(9960, 10_000)]
    assert {lamp["position"] for lamp in last_room["items"]} == {str(p) for p in range(1, 41)}
    asset_numbers = {lamp["asset_no"] for lamp in last_room["items"]}
    assert f"{school['code']}-10000" in asset_numbers  # one number per lamp, none skipped

    first_page = ok(call(client, "GET", f"/schools/{school['school_id']}/lamps?limit=5", auth("manager")))
    assert [lamp["room_id"] for lamp in first_page["items"]] == ["R000"] * 5
    assert first_page["next_cursor"]  # the listing pages on through the other 9,995
    sample = [*first_page["items"], last_room["items"][0], last_room["items"][-1]]
    for lamp in sample:
        fetched = ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth("manager")))
        assert fetched["warranty"]["ends_on"] == "2030-09-01"
        assert URL_SAFE_TOKEN.match(fetched["qr_token"])
    assert len({lamp["qr_token"] for lamp in first_page["items"] + last_room["items"]}) == 45


def test_a_charset_declared_in_the_content_type_is_honoured(client, auth):
    """Without the declaration these bytes would also decode as GB 18030, into the wrong characters."""
    school = make_school(client, auth)
    row = good_row("SN-LATIN-1", room="A-101")
    row[HEADER.index("building")] = "Bâtiment Müller"
    body = csv_body([row]).decode("utf-8").encode("iso-8859-1")

    code, report = post_import(client, auth, school["school_id"], body, "text/csv; charset=ISO-8859-1")

    assert code == 200, report
    rooms = ok(call(client, "GET", f"/schools/{school['school_id']}", auth()))["rooms"]
    assert rooms[0]["building"] == "Bâtiment Müller"


# ---- a list that would not fit in a Lambda (issue 8): refused while it is read, for little memory ---------
#
# The memory these refusals save is measured by the benchmark (devtools/bench_lamp_import.py), not here.


def xlsx_stream(rows: list[list[object]]) -> bytes:
    """A big workbook, written row by row (openpyxl's write-only mode), as the tests' large lists are."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def numbered_rows(count: int) -> list[list[str]]:
    return [good_row(f"SN-{n:05d}", str(n % 40 + 1), room=f"R-{n // 40:03d}") for n in range(count)]


def assert_refused(code: int, reply: dict, message: str, problem: str) -> None:
    assert code == 422, reply
    assert reply["error"]["code"] == "invalid_input"
    assert message in reply["error"]["message"]
    assert [d["field"] for d in reply["error"]["details"]] == ["(body)"]
    assert problem in reply["error"]["details"][0]["problem"]


def test_a_small_xlsx_declaring_two_thousand_by_16384_cells_is_refused_naming_its_declared_size(client, auth):
    """1.5 KB that openpyxl would pad into 32 million cells (about 250 MB) before any row is looked at."""
    from tests import workbooks

    school = make_school(client, auth)
    bomb = workbooks.size_bomb()
    assert len(bomb) < 2_000

    code, reply = post_import(client, auth, school["school_id"], bomb, XLSX)

    assert_refused(
        code, reply, "at most 10,000 rows after the header and 64 columns", "declares 2,000 rows and 16,384 columns"
    )
    assert_nothing_registered(client, auth, school)


@pytest.mark.parametrize("content_type", [CSV, XLSX])
def test_a_list_of_10001_rows_is_refused_naming_the_row_limit(client, auth, content_type):
    school = make_school(client, auth)
    rows = numbered_rows(10_001)
    body = csv_body(rows) if content_type == CSV else xlsx_stream([HEADER, *rows])

    code, reply = post_import(client, auth, school["school_id"], body, content_type)

    assert_refused(
        code, reply, "at most 10,000 rows per import", "row 10,002 is past the limit of 10,000 rows after the header"
    )
    assert_nothing_registered(client, auth, school)


@pytest.mark.parametrize("content_type", [CSV, XLSX])
def test_a_list_past_the_row_limit_is_refused_before_the_rest_of_it_is_read(client, auth, content_type):
    """What follows row 10,002 is never read: here it is unreadable, and the answer is still the row limit."""
    from tests import workbooks

    school = make_school(client, auth)
    rows = numbered_rows(10_001)
    if content_type == CSV:
        body = csv_body(rows) + b'A-101,"' + b"x" * 200_000 + b'"\n'  # a field past csv's 128 KB limit
    else:  # a row number openpyxl cannot read, after 10,001 good rows and no declared size
        cells = "".join(workbooks.row_xml(number, row) for number, row in enumerate([HEADER, *rows], start=1))
        body = workbooks.package(workbooks.worksheet(cells + '<row r="row-ten-thousand-and-three"/>'))

    code, reply = post_import(client, auth, school["school_id"], body, content_type)

    assert_refused(code, reply, "at most 10,000 rows per import", "row 10,002 is past the limit")
    assert_nothing_registered(client, auth, school)


def test_a_sheet_of_a_million_rows_that_declares_no_size_is_refused_naming_the_row_limit(client, auth):
    """10 KB without a <dimension>: openpyxl would walk every row to size the sheet before reading one."""
    from tests import workbooks

    school = make_school(client, auth)

    code, reply = post_import(client, auth, school["school_id"], workbooks.undeclared_rows(), XLSX)

    assert_refused(code, reply, "at most 10,000 rows per import", "row 10,002 is past the limit")


def test_a_zip_bomb_is_refused_from_the_sizes_its_directory_declares(client, auth):
    """100 KB that unpacks to 57 MB of shared strings, which openpyxl would all keep."""
    from tests import workbooks

    school = make_school(client, auth)

    code, reply = post_import(client, auth, school["school_id"], workbooks.zip_bomb(), XLSX)

    assert_refused(code, reply, "larger than an equipment list can be", "unpacks to 56.7 MB; at most 48.0 MB")
    assert_nothing_registered(client, auth, school)


@pytest.mark.parametrize("content_type", [CSV, XLSX])
def test_a_row_with_a_value_past_column_64_is_refused_naming_the_row_and_column(client, auth, content_type):
    school = make_school(client, auth)
    wide = [*good_row("SN-WIDE", "2"), *[""] * 54, "a note in column BM"]
    assert len(wide) == 65
    rows = [good_row("SN-1"), wide]
    body = csv_body(rows) if content_type == CSV else xlsx_stream([HEADER, *rows])

    code, reply = post_import(client, auth, school["school_id"], body, content_type)

    assert_refused(
        code, reply, "at most 64 columns per row", "row 3 has a value in column BM (65), past the limit of 64 columns"
    )
    assert_nothing_registered(client, auth, school)


def test_empty_cells_past_column_64_are_ignored_as_excel_pads_and_styles_them(client, auth):
    from tests import workbooks

    school = make_school(client, auth)
    padded_csv = b"\n".join(line + b"," * 100 for line in csv_body(ROWS).splitlines()) + b"\n"
    code, report = post_import(client, auth, school["school_id"], padded_csv)
    assert code == 200, report
    assert (report["created"], report["failed"]) == (3, 0)

    # a styled but empty cell in the sheet's last column, on every row
    other = make_school(client, auth)
    rows = [[*row[:5], f"{row[5]}-B", *row[6:]] for row in ROWS]
    cells = "".join(
        workbooks.row_xml(number, row)[: -len("</row>")] + f'<c r="XFD{number}" s="0"/></row>'
        for number, row in enumerate([HEADER, *rows], start=1)
    )
    code, report = post_import(client, auth, other["school_id"], workbooks.package(workbooks.worksheet(cells)), XLSX)
    assert code == 200, report
    assert (report["created"], report["failed"]) == (3, 0)
    assert_registered_as_listed(client, auth, other, rows)


def test_a_workbook_that_declares_only_a1_as_some_libraries_write_is_read_whole(client, auth):
    """The rows a sheet holds are read, within the limits, not only the ones its <dimension> claims."""
    from tests import workbooks

    school = make_school(client, auth)
    cells = "".join(workbooks.row_xml(number, row) for number, row in enumerate([HEADER, *ROWS], start=1))

    code, report = post_import(
        client, auth, school["school_id"], workbooks.package(workbooks.worksheet(cells, "A1")), XLSX
    )

    assert code == 200, report
    assert (report["rows"], report["created"]) == (3, 3)
    assert_registered_as_listed(client, auth, school, ROWS)


def test_a_csv_field_too_long_to_read_is_a_422_naming_the_row(client, auth):
    school = make_school(client, auth)
    body = csv_body(ROWS) + b'A-101,"' + b"x" * 200_000 + b'"\n'

    code, reply = post_import(client, auth, school["school_id"], body)

    assert_refused(code, reply, "the CSV file cannot be read", "row 5: field larger than field limit")
    assert_nothing_registered(client, auth, school)


def test_an_xlsx_declaring_a_dtd_is_refused_before_any_entity_is_expanded(client, auth):
    """A DOCTYPE is how the "billion laughs" entity bomb starts; a spreadsheet never has one."""
    from tests import workbooks

    school = make_school(client, auth)
    laughs = '<!DOCTYPE worksheet [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    sheet = workbooks.worksheet(
        workbooks.row_xml(1, HEADER) + '<row r="2"><c r="A2" t="inlineStr"><is><t>&b;</t></is></c></row>', prolog=laughs
    )

    code, reply = post_import(client, auth, school["school_id"], workbooks.package(sheet), XLSX)

    assert_refused(code, reply, "not a readable XLSX workbook", "xl/worksheets/sheet1.xml declares a DTD")
