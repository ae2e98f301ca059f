"""The school's pages (issue 9): a browser scanning a label gets a page, an API client keeps its JSON.

Content negotiation and language, the page weight, the form that works without JavaScript, the
lamp's open case first, the status page, friendly 404s, and no personal data on any public page.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.functional.factories import call, drive, make_lamp, make_school, make_user, ok

BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "Accept-Language": "zh-CN,zh;q=0.9",
}
ENGLISH_BROWSER = {**BROWSER, "Accept-Language": "en-GB,en;q=0.9"}
FORM = {**BROWSER, "Content-Type": "application/x-www-form-urlencoded"}
PAGE_BUDGET = 60 * 1024  # HTML, CSS and script together (issue 9)
PHONE = "+86 138 0013 8000"
ENGINEER_NAME = "王建国"
NOTE = "spare driver board is in the van"


@pytest.fixture
def lamp(client, auth):
    school = make_school(client, auth, name="No. 7 Primary School")
    return make_lamp(client, auth, school["school_id"], room_id="B-201", position="3")


def page(client, path, headers=BROWSER):
    response = client.http.get(path, headers=headers)
    body = response.body.decode() if isinstance(response.body, bytes) else response.body
    return response.status_code, response.headers, body


def post_form(client, lamp, **fields):
    response = client.http.post(f"/r/{lamp['qr_token']}/reports", headers=FORM, body=urlencode(fields))
    body = response.body.decode() if isinstance(response.body, bytes) else response.body
    return response.status_code, response.headers, body


def public_ref_of(location: str) -> str:
    found = re.search(r"/s/([^/?]+)", location)
    assert found, location
    return found.group(1)


def report_json(client, lamp, **body):
    return ok(
        call(
            client,
            "POST",
            f"/r/{lamp['qr_token']}/reports",
            {"Content-Type": "application/json"},
            {"fault": "not_lit", **body},
        ),
        201,
    )


# ---- negotiation and language --------------------------------------------------------------------


def test_a_browser_gets_the_report_page_and_an_api_client_keeps_its_json(client, auth, lamp):
    status, headers, html = page(client, f"/r/{lamp['qr_token']}")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "No. 7 Primary School" in html and "B-201" in html and lamp["asset_no"] in html
    assert html.count('name="fault"') == 8  # seven faults and "the whole room is dark"
    assert 'name="website"' in html  # the honeypot, hidden from people by the page's style
    for accept in ("application/json", "*/*", None):
        headers = {"Accept": accept} if accept else {}
        code, body = call(client, "GET", f"/r/{lamp['qr_token']}", headers)
        assert code == 200 and body["lamp"]["asset_no"] == lamp["asset_no"], accept


def test_the_page_is_chinese_by_default_english_when_the_browser_prefers_it_and_the_switch_wins(client, auth, lamp):
    path = f"/r/{lamp['qr_token']}"
    _, _, chinese = page(client, path, {"Accept": "text/html"})
    assert 'lang="zh-CN"' in chinese and "哪里有问题？" in chinese
    assert f'href="../r/{lamp["qr_token"]}?lang=en"' in chinese  # the visible switch
    _, _, english = page(client, path, ENGLISH_BROWSER)
    assert 'lang="en"' in english and "What is wrong?" in english and "哪里有问题" not in english
    _, _, switched = page(client, path + "?lang=zh", ENGLISH_BROWSER)
    assert "哪里有问题？" in switched


def test_each_page_with_its_style_and_script_weighs_at_most_60_kb(client, auth, lamp):
    _, _, report_page = page(client, f"/r/{lamp['qr_token']}")
    out = report_json(client, lamp, fault="flickering")
    _, _, open_case_page = page(client, f"/r/{lamp['qr_token']}", ENGLISH_BROWSER)
    _, _, status_page = page(client, f"/s/{out['public_ref']}")
    for html in (report_page, open_case_page, status_page):
        assert "<script src" not in html and "stylesheet" not in html  # nothing else to download: one request
        assert '<link rel="icon" href="data:,">' in html  # not even a favicon
        assert len(html.encode()) <= PAGE_BUDGET, len(html.encode())
    assert "<script nonce=" in report_page  # the photo script is inline too, so it is weighed


def test_importing_the_app_does_not_load_jinja2():
    root = Path(__file__).resolve().parents[2]
    probe = "import sys, app; print(sorted(m for m in ('jinja2', 'markupsafe') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# ---- the form without JavaScript ----------------------------------------------------------------


def test_a_form_post_without_javascript_files_the_report_and_redirects_to_its_status_page(client, auth, lamp):
    status, headers, body = post_form(
        client, lamp, fault="dim", description="Dim above the blackboard", contact_phone=PHONE, lang="en", website=""
    )
    assert status == 303 and body == ""
    assert headers["Location"].startswith("../../s/") and headers["Location"].endswith("?lang=en")
    public_ref = public_ref_of(headers["Location"])
    code, status_json = call(client, "GET", f"/s/{public_ref}", {"Accept": "application/json"})
    assert code == 200 and status_json["stage"] == "received"
    ticket = ok(call(client, "GET", f"/tickets/{status_json['reference']}", auth("dispatcher")))
    assert (ticket["category"], ticket["description"], ticket["lamp_ids"]) == (
        "dim",
        "Dim above the blackboard",
        [lamp["lamp_id"]],
    )
    _, _, html = page(client, f"/s/{public_ref}?lang=en")
    assert status_json["reference"] in html and "Received; an engineer is being arranged." in html


def test_a_form_post_with_problems_shows_the_page_again_naming_them_and_files_nothing(client, auth, lamp):
    status, headers, html = post_form(client, lamp, description="No fault chosen", contact_phone="call me", lang="en")
    assert status == 422 and headers["Content-Type"].startswith("text/html")
    assert "Choose what is wrong." in html and "This phone number does not look right." in html
    assert ">No fault chosen</textarea>" in html and 'value="call me"' in html  # what was typed is kept
    assert ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth()))["has_open_fault"] is False


def test_a_form_post_filled_in_by_a_bot_files_nothing(client, auth, lamp):
    status, _, _ = post_form(client, lamp, fault="not_lit", website="http://spam.example")
    assert status == 303
    assert ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth()))["has_open_fault"] is False


def test_too_many_form_posts_from_one_label_get_a_friendly_page_with_retry_after(client, auth, lamp):
    answers = [post_form(client, lamp, fault="not_lit")[0] for _ in range(10)]
    assert answers == [303] * 10
    status, headers, html = post_form(client, lamp, fault="not_lit")
    assert status == 429 and int(headers["Retry-After"]) > 0
    assert "提交太频繁了" in html and "throttled" not in html


# ---- the lamp's open case first -----------------------------------------------------------------


def test_a_lamp_with_an_open_case_says_so_and_still_broken_joins_it(client, auth, lamp):
    first = report_json(client, lamp, fault="flickering")
    _, _, html = page(client, f"/r/{lamp['qr_token']}", ENGLISH_BROWSER)
    assert "This lamp has been reported already" in html
    assert "Received; an engineer is being arranged." in html and "Reported at " in html
    assert 'name="fault" value="flickering"' in html and 'type="radio"' not in html  # no new fault to choose
    assert "Still broken" in html and "Add my phone number" in html and "Add a photo" in html
    assert f"s/{first['public_ref']}?lang=en" in html

    status, headers, _ = post_form(client, lamp, fault="flickering", contact_phone=PHONE, lang="en")
    assert status == 303 and public_ref_of(headers["Location"]) == first["public_ref"]
    code, followed = call(client, "GET", f"/s/{first['public_ref']}", {})
    assert code == 200 and followed["report_count"] == 2
    _, _, html = page(client, f"/r/{lamp['qr_token']}", ENGLISH_BROWSER)
    assert "2 reports so far." in html


def test_the_open_case_says_an_engineer_is_on_the_way_and_when_he_is_expected(client, auth, lamp):
    first = report_json(client, lamp)
    make_user("eng-1", "engineer", name=ENGINEER_NAME)
    ticket = ok(call(client, "GET", f"/tickets/{first['reference']}", auth("dispatcher")))
    ticket = drive(client, auth, ticket, "acknowledged")
    eta = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=25)).replace(second=0, microsecond=0)
    ok(
        call(
            client,
            "POST",
            f"/tickets/{ticket['ticket_id']}/transitions",
            auth("engineer", "eng-1"),
            {"action": "depart", "version": ticket["version"], "eta": eta.isoformat().replace("+00:00", "Z")},
        )
    )
    expected = eta.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%H:%M")
    _, _, html = page(client, f"/r/{lamp['qr_token']}", ENGLISH_BROWSER)
    assert "An engineer is on the way." in html and f"Expected by {expected}" in html
    _, _, html = page(client, f"/s/{first['public_ref']}")
    assert "工程师正在赶来。" in html and f"预计 {expected} 前到场。" in html
    assert [step in html for step in ("已收到报修", "已安排工程师", "工程师出发")] == [True, True, True]


# ---- no personal data, friendly refusals --------------------------------------------------------


def test_no_public_page_shows_a_name_a_phone_number_or_a_note(client, auth, lamp):
    first = report_json(client, lamp, contact_phone=PHONE, description="Dark since this morning")
    report_json(client, lamp, contact_phone="13912345678")
    make_user("eng-1", "engineer", name=ENGINEER_NAME)
    ticket = ok(call(client, "GET", f"/tickets/{first['reference']}", auth("dispatcher")))
    ticket = drive(client, auth, ticket, "en_route")
    ok(
        call(
            client,
            "POST",
            f"/tickets/{ticket['ticket_id']}/transitions",
            auth("engineer", "eng-1"),
            {"action": "arrive", "version": ticket["version"], "note": NOTE},
        )
    )
    pages = [
        page(client, f"/r/{lamp['qr_token']}", headers)[2] + page(client, f"/s/{first['public_ref']}", headers)[2]
        for headers in (BROWSER, ENGLISH_BROWSER)
    ]
    pages.append(str(call(client, "GET", f"/s/{first['public_ref']}", {})[1]))
    for html in pages:
        assert "工程师已到现场。" in html or "The engineer is on site." in html or "engineer_on_site" in html
        for secret in (PHONE, "13800138000", "0013 8000", "138****8000", "13912345678", ENGINEER_NAME, NOTE):
            assert secret not in html, secret
        assert "eng-1" not in html


@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_unknown_or_rotated_label_and_an_unknown_reference_get_a_friendly_page(client, auth, lamp, language):
    headers = BROWSER if language == "zh" else ENGLISH_BROWSER
    old_token = lamp["qr_token"]
    ok(call(client, "POST", f"/lamps/{lamp['lamp_id']}/qr-token", auth("admin")))
    title = {"zh": "这个二维码无法使用", "en": "This QR code cannot be used"}[language]
    for path in ("/r/never-printed", f"/r/{old_token}"):
        status, answer_headers, html = page(client, path, headers)
        assert status == 404 and answer_headers["Content-Type"].startswith("text/html") and title in html
        assert (
            "not_found" not in html
            and "error" not in html.split("<main>")[1]
            and old_token not in html.split("<main>")[1]
        )
    status, _, html = post_form(client, {"qr_token": old_token}, fault="not_lit", lang=language)
    assert status == 404 and title in html
    status, _, html = page(client, "/s/no-such-report", headers)
    assert status == 404 and {"zh": "找不到这个报修", "en": "We cannot find this report"}[language] in html
    code, body = call(client, "GET", f"/r/{old_token}", {"Accept": "application/json"})
    assert code == 404 and body["error"]["code"] == "not_found"  # an API client keeps the error shape
