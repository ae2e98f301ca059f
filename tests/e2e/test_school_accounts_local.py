"""End to end on the README's run command: the school_staff token it prints sees its own demo school and
nothing of the other (D-A3), and chalice local's own server answers an unknown path 404 in our shape.

Chalice local (`make run`) reaches the app through its own HTTP handler (devtools/local_http.py on
chalice.local), not through the tests' in-process client: what the functional tests show must hold here.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.server import LocalServer, free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path_factory.mktemp("local-data"), free_port())
    srv.start("--fresh")
    yield srv
    srv.stop()


def _get(server: LocalServer, path: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(server.base + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_make_run_prints_a_school_staff_token_limited_to_the_first_demo_school(server: LocalServer) -> None:
    line = next(line for line in server.output if line.startswith("  school_staff "))
    token = line.split()[2]
    school_id = line.rsplit(": ", 1)[1].strip(" )\n")
    status, schools = server.request("GET", "/schools", role="manager")
    assert status == 200
    first, other = sorted(schools["items"], key=lambda s: s["code"])  # SH01 has the demo's tickets
    assert first["school_id"] == school_id

    assert _get(server, f"/schools/{school_id}", token)[0] == 200
    status, lamps = _get(server, f"/schools/{school_id}/lamps?limit=200", token)
    assert status == 200 and len(lamps["items"]) == 32
    status, tickets = _get(server, "/tickets", token)
    assert status == 200 and {t["school_id"] for t in tickets["items"]} == {school_id}
    assert sorted(t["status"] for t in tickets["items"]) == ["reported", "triaged"]  # as the README says

    status, body = _get(server, f"/schools/{other['school_id']}", token)
    assert status == 404 and body["error"]["code"] == "not_found"
    assert _get(server, f"/tickets?school_id={other['school_id']}", token) == (200, {"items": [], "next_cursor": None})
    assert _get(server, "/schools", token)[0] == 403


def test_chalice_local_answers_an_unknown_path_404_in_our_shape(server: LocalServer) -> None:
    for token in (None, server.token("admin")):
        status, body = _get(server, "/no-such-route/at-all", token)
        assert status == 404 and body["error"]["code"] == "not_found", body
