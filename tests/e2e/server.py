"""The README's run command (`python -m devtools.run_local`) as a subprocess, spoken to over real HTTP.

The server runs in its own process group (as under `make run` in a terminal), so a test can
kill the whole group, and with LAMPCARE_FORBID_SCANS=1, so any DynamoDB Scan on a request path
turns into a failed request.
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
from functools import cache
from pathlib import Path
from typing import Any

from tests.contract import check_response

PROJECT = Path(__file__).resolve().parents[2]
READY = "LampCare API ready on"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@cache
def _token(data_dir: Path, role: str, sub: str | None) -> str:
    from devtools.token import token_for

    return token_for(role, sub, data_dir)


class LocalServer:
    def __init__(self, data_dir: Path, port: int, *options: str):
        self.data_dir, self.port, self.options = data_dir, port, options
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
                *self.options,
                *extra,
            ],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, as `make run` has in a terminal
        )
        deadline = time.monotonic() + 90
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            self.output.append(line)
            if line.startswith(READY):
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

    def kill_group(self) -> None:
        """SIGKILL to the server's whole process group: nothing runs after it, no handler, no flush."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def token(self, role: str, sub: str | None = None) -> str:
        return _token(self.data_dir, role, sub)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        role: str | None = None,
        sub: str | None = None,
        timeout: float = 30,
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if role:
            headers["Authorization"] = f"Bearer {self.token(role, sub)}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            status, headers, raw = exc.code, dict(exc.headers), exc.read()
        check_response(method, path, status, headers, raw)  # the real server keeps the documented contract too
        return status, json.loads(raw or b"null")
