"""End to end: the README's run command as a subprocess, spoken to over real HTTP.

The server runs with LAMPCARE_FORBID_SCANS=1, so any DynamoDB Scan on a request path
turns into a failed request here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract import check_response

PROJECT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    def __init__(self, data_dir: Path, port: int):
        self.data_dir, self.port = data_dir, port
        self.base = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMPCARE_"))}
        env["LAMPCARE_FORBID_SCANS"] = "1"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devtools.run_local",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *extra,
            ],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 90
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            self.output.append(line)
            if line.startswith("LampCare API ready on"):
                # keep draining: a full pipe would block the server's log writes
                threading.Thread(target=self._drain, args=(self.process.stdout,), daemon=True).start()
                return
        raise AssertionError("server did not start:\n" + "".join(self.output[-40:]))

    def _drain(self, stream: Any) -> None:
        for line in stream:
            self.output.append(line)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            time.sleep(0.2)  # let the drain thread take the last lines

    def token(self, role: str, sub: str | None = None) -> str:
        from devtools.token import token_for

        return token_for(role, sub, self.data_dir)

    def request(
        self, method: str, path: str, body: Any = None, role: str | None = None, sub: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if role:
            headers["Authorization"] = f"Bearer {self.token(role, sub)}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            status, headers, raw = exc.code, dict(exc.headers), exc.read()
        check_response(method, path, status, headers, raw)  # the real server keeps the documented contract too
        return status, json.loads(raw or b"null")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path_factory.mktemp("local-data"), _free_port())
    srv.start("--fresh")
    yield srv
    srv.stop()


def test_run_command_serves_health_and_prints_tokens_and_a_qr_url(server: LocalServer) -> None:
    status, body = server.request("GET", "/health")
    assert status == 200 and body["tables"]["reachable"] is True
    printed = "".join(server.output)
    for role in ("engineer", "expert", "dispatcher", "parts_manager", "project_lead", "manager", "admin"):
        assert f"  {role} " in printed
    qr_url = next(line.split(": ", 1)[1].strip() for line in server.output if line.startswith("QR report URL"))
    with urllib.request.urlopen(qr_url, timeout=10) as response:
        lamp = json.loads(response.read())
    assert lamp["lamp"]["room_id"] and "school" in lamp


def test_demo_data_has_schools_with_gps_and_sixty_lamps(server: LocalServer) -> None:
    status, schools = server.request("GET", "/schools", role="manager")
    assert status == 200 and len(schools["items"]) == 2
    assert all(s["latitude"] and s["longitude"] for s in schools["items"])
    total = 0
    for school in schools["items"]:
        status, lamps = server.request("GET", f"/schools/{school['school_id']}/lamps?limit=200", role="manager")
        assert status == 200
        total += len(lamps["items"])
    assert total >= 60


def test_requests_without_a_valid_token_are_refused(server: LocalServer) -> None:
    status, body = server.request("GET", "/tickets?status=reported")
    assert status == 401 and body["error"]["code"] == "unauthenticated"
    status, body = server.request("POST", "/schools", {"name": "x"}, role="engineer")
    assert status == 403


def test_a_dispatcher_reports_and_assigns_a_fault_and_it_survives_a_restart(server: LocalServer) -> None:
    _, schools = server.request("GET", "/schools", role="dispatcher")
    school_id = schools["items"][0]["school_id"]
    _, lamps = server.request("GET", f"/schools/{school_id}/lamps?room_id=B-201", role="dispatcher")
    status, ticket = server.request(
        "POST",
        "/tickets",
        {
            "source": "school_report",
            "school_id": school_id,
            "lamp_ids": [lamps["items"][0]["lamp_id"]],
            "category": "flickering",
            "description": "Flickers every few seconds",
        },
        role="dispatcher",
    )
    assert status == 201, ticket
    status, ticket = server.request(
        "POST",
        f"/tickets/{ticket['ticket_id']}/transitions",
        {"action": "triage", "version": ticket["version"], "level": 3},
        role="dispatcher",
    )
    assert status == 200 and ticket["colour"] == "orange"
    status, ticket = server.request(
        "POST",
        f"/tickets/{ticket['ticket_id']}/transitions",
        {"action": "assign", "version": ticket["version"], "assignee_id": "eng-1"},
        role="dispatcher",
    )
    assert status == 200
    status, mine = server.request("GET", "/tickets", role="engineer", sub="eng-1")
    assert status == 200 and ticket["ticket_id"] in [t["ticket_id"] for t in mine["items"]]

    server.stop()
    assert "Snapshot written" in "".join(server.output)
    server.start()  # no --fresh: the snapshot is restored
    status, again = server.request("GET", f"/tickets/{ticket['ticket_id']}", role="dispatcher")
    assert status == 200 and again["status"] == "assigned" and again["version"] == ticket["version"]
