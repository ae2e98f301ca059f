"""A client generated from openapi.yaml by openapi-python-client (issue 9, "Also fix") uploads an
equipment list and downloads the label sheet, through the app.

The generator, with its defaults as an integrator would run it, left `importLamps` out (it knows no
`text/csv` body) and gave `getQrLabels` no 200 (it knows no `application/pdf` answer), so generated
clients could not import and raised on success. The document now also offers what generic clients
send and read for a file (`application/octet-stream`, `type: string, format: binary`), and the app
accepts and serves it. The generated client's HTTP goes to chalice's test client through an httpx
transport, so every answer is also checked against the document (tests/contract.py).
"""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract import SPEC_PATH
from tests.functional.factories import make_lamp, make_school
from tests.functional.test_lamp_import import HEADER, ROWS, csv_body, xlsx_body

PACKAGE = "lampcare_generated_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The client package, generated once per run into a temporary folder (no post-hooks: no formatting)."""
    folder = tmp_path_factory.mktemp("generated")
    config = folder / "config.yaml"
    config.write_text("post_hooks: []\n")
    generator = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [str(generator), "generate", "--path", str(SPEC_PATH), "--meta", "none"]
        + ["--output-path", str(folder / PACKAGE), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _bridge(chalice_client: Any) -> httpx.MockTransport:
    """httpx requests answered by the app through chalice's test client (which checks them against the document)."""

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        answer = chalice_client.http.request(
            request.method, path, headers=dict(request.headers), body=request.content or b""
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.body)

    return httpx.MockTransport(handle)


@pytest.fixture
def api(generated: Any, client: Any, token: Any) -> Any:
    return generated.AuthenticatedClient(
        base_url="http://lampcare.test",
        token=token("admin"),
        raise_on_unexpected_status=True,  # a documented success the client cannot read would raise here
        httpx_args={"transport": _bridge(client)},
    )


def test_the_generated_client_has_every_operation(generated):
    from openapi_python_client.strings import snake_case  # the generator's own module names

    from chalicelib.handlers._api import OPERATIONS

    modules = {path.stem for path in (Path(generated.__file__).parent / "api").rglob("*.py")}
    missing = [op.operation_id for op in OPERATIONS if snake_case(op.operation_id) not in modules]
    assert not missing, f"openapi-python-client left out: {missing}"


@pytest.mark.parametrize(
    "payload", [csv_body(ROWS), xlsx_body([HEADER, *ROWS])], ids=["csv as a file", "xlsx as a file"]
)
def test_a_generated_client_imports_an_equipment_list(generated, api, client, auth, payload):
    from lampcare_generated_client.api.schools import import_lamps  # type: ignore[import-not-found]
    from lampcare_generated_client.types import File  # type: ignore[import-not-found]

    school = make_school(client, auth)
    response = import_lamps.sync_detailed(school["school_id"], client=api, body=File(payload=io.BytesIO(payload)))
    assert response.status_code == 200, response.content
    report = response.parsed
    assert (report.created, report.failed) == (3, 0)


def test_a_generated_client_downloads_the_label_sheet(generated, api, client, auth):
    from lampcare_generated_client.api.schools import get_qr_labels  # type: ignore[import-not-found]

    school = make_school(client, auth)
    make_lamp(client, auth, school["school_id"])
    response = get_qr_labels.sync_detailed(school["school_id"], client=api)
    assert response.status_code == 200
    assert response.parsed.payload.read().startswith(b"%PDF")


def test_the_label_sheet_comes_as_octet_stream_to_a_client_that_asks_only_for_that(client, auth):
    school = make_school(client, auth)
    make_lamp(client, auth, school["school_id"])
    path = f"/schools/{school['school_id']}/qr-labels"
    for accept, expected in (("application/octet-stream", "application/octet-stream"), ("*/*", "application/pdf")):
        answer = client.http.get(path, headers={**auth("admin"), "Accept": accept})
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == expected
        assert answer.body.startswith(b"%PDF")
