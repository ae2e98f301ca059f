"""HTTP keep-alive on the real local server (`make run`'s command), against a new connection per request.

The server is started exactly as the README says (demo data, moto server mode) in a
temporary data directory, on a free port of 127.0.0.1. `GET /health` is sent over one
reused `http.client.HTTPConnection` and over a fresh connection per request, in
alternating rounds. Reusing the connection must never be slower: before the Nagle fix
in `devtools.run_local`, keep-alive ran at 10-20 req/s (headers and body are separate
writes, and the delayed ACK stalls the second one).

The server's stdout (one JSON log line per request) is drained by a thread, so a full
pipe can never stall it.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY = "LampCare API ready on"


@dataclass
class KeepAlive:
    requests_per_mode: int
    rounds: int
    keepalive_seconds: float
    new_connection_seconds: float
    reconnects: int  # times the "kept-alive" connection had to be opened again (should be 0)
    startup_seconds: float
    stopped_cleanly: bool

    @property
    def keepalive_rps(self) -> float:
        return self.requests_per_mode / self.keepalive_seconds

    @property
    def new_connection_rps(self) -> float:
        return self.requests_per_mode / self.new_connection_seconds

    @property
    def ratio(self) -> float:
        return self.keepalive_rps / self.new_connection_rps


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`python -m devtools.run_local --fresh` in a data directory; its output drained by a thread."""

    def __init__(self, data_dir: Path, port: int, env: dict[str, str]):
        self.port = port
        self.tail: deque[str] = deque(maxlen=60)
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools.run_local", "--port", str(port), "--data-dir", str(data_dir), "--fresh"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.tail.append(line)
            if line.startswith(READY):
                self.ready.set()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the local server did not start:\n" + "".join(self.tail))

    def stop(self) -> bool:
        """SIGINT (the server writes its snapshot) and wait; True if it exited by itself."""
        clean = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                clean = False
                self.process.kill()
                self.process.wait()
        self.reader.join(timeout=10)
        return clean and any("Snapshot written" in line for line in self.tail)


def _get_health(conn: http.client.HTTPConnection) -> None:
    conn.request("GET", "/health")
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"GET /health returned {response.status}")


def _keepalive_round(port: int, count: int) -> tuple[float, int]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    reconnects = -1  # the first connect is not a reconnect
    sock = None
    started = time.perf_counter()
    for _ in range(count):
        _get_health(conn)
        if conn.sock is not sock:
            reconnects += 1
            sock = conn.sock
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, reconnects


def _new_connection_round(port: int, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        _get_health(conn)
        conn.close()
    return time.perf_counter() - started


def measure(original_env: dict[str, str], requests: int = 300, rounds: int = 6) -> KeepAlive:
    """`original_env`: the environment the benchmark was started with (the server sets its own AWS_* and LAMPCARE_*)."""
    env = {k: v for k, v in original_env.items() if not k.startswith(("AWS_", "LAMPCARE_"))}
    per_round = max(1, requests // rounds)
    with tempfile.TemporaryDirectory(prefix="lampcare-bench-server-") as tmp:
        started = time.perf_counter()
        server = ServerProcess(Path(tmp), free_port(), env)
        try:
            server.wait_ready(timeout=120)
            startup = time.perf_counter() - started
            _keepalive_round(server.port, 20)  # warm-up: first requests load lazy code paths
            _new_connection_round(server.port, 20)
            keepalive = new = 0.0
            reconnects = 0
            for n in range(rounds):
                if n % 2 == 0:
                    seconds, again = _keepalive_round(server.port, per_round)
                    new += _new_connection_round(server.port, per_round)
                else:
                    new += _new_connection_round(server.port, per_round)
                    seconds, again = _keepalive_round(server.port, per_round)
                keepalive += seconds
                reconnects += again
        finally:
            clean = server.stop()
    return KeepAlive(per_round * rounds, rounds, keepalive, new, reconnects, startup, clean)


if __name__ == "__main__":
    result = measure(dict(os.environ))
    print(
        result,
        f"keep-alive {result.keepalive_rps:.0f} req/s, new {result.new_connection_rps:.0f} req/s, "
        f"ratio {result.ratio:.2f}",
        file=sys.stderr,
    )
