"""End to end: a partner platform's Open311 client against the server `make run` starts, over real HTTP.

The run command prints a demo partner's api_key on a line that says Open311; with it a form-encoded POST
files a request that reads back in JSON and XML. The server refuses any DynamoDB Scan
(LAMPCARE_FORBID_SCANS=1), so the lists answering here are Queries.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from tests.contract import check_response
from tests.e2e.server import LocalServer, free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path_factory.mktemp("local-data"), free_port())
    srv.start("--fresh")
    yield srv
    srv.stop()


def printed_key(server: LocalServer) -> str:
    line = next(line for line in reversed(server.output) if "Open311 api_key" in line)
    return line.rsplit(": ", 1)[1].strip()


def send(server: LocalServer, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    data = urlencode(form).encode() if form is not None else None
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
    request = urllib.request.Request(server.base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, answer_headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, answer_headers, raw = exc.code, dict(exc.headers), exc.read()
    check_response(method, path, status, answer_headers, raw)
    return status, answer_headers["Content-Type"], raw


def test_the_printed_key_files_a_request_that_reads_back_in_json_and_xml(server: LocalServer) -> None:
    status, _, raw = send(server, "GET", "/open311/v2/discovery.xml")
    assert status == 200 and ET.fromstring(raw).findtext("endpoints/endpoint/url") == f"{server.base}/open311/v2"

    form = {"api_key": printed_key(server), "service_code": "noise", "address_id": "SH02-00012"}
    status, media, raw = send(server, "POST", "/open311/v2/requests.json", form)
    assert (status, media) == (200, "application/json; charset=utf-8"), raw
    ref = json.loads(raw)[0]["service_request_id"]

    status, media, raw = send(server, "GET", f"/open311/v2/requests/{ref}.xml")
    assert (status, media) == (200, "text/xml; charset=utf-8")
    request = ET.fromstring(raw).find("request")
    assert request is not None
    assert (request.findtext("service_code"), request.findtext("address_id"), request.findtext("status")) == (
        "noise",
        "SH02-00012",
        "open",
    )
    status, _, raw = send(server, "GET", "/open311/v2/requests.json?status=open&service_code=noise")
    assert status == 200 and ref in [r["service_request_id"] for r in json.loads(raw)]

    status, _, raw = send(server, "POST", "/open311/v2/requests.xml", {**form, "api_key": "guessed"})
    assert status == 403 and ET.fromstring(raw).findtext("error/code") == "403"


def test_the_printed_key_still_works_after_a_restart(server: LocalServer) -> None:
    server.stop()
    server.output.clear()
    server.start()  # the saved data, not the demo seed: the partner is registered again all the same
    form = {"api_key": printed_key(server), "service_code": "dim", "address_id": "SH02-00020"}
    status, _, raw = send(server, "POST", "/open311/v2/requests.json", form)
    assert status == 200, raw
