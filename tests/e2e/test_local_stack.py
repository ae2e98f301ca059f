"""End to end: the `make run` server behaves like DynamoDB behind API Gateway, under load and under kills.

- Serializable: concurrent transitions of one ticket never lose a confirmed change; exactly one of
  the racers holding the same version wins; the lamp's open-ticket counter adds up (issue 8).
- Durable: a write acknowledged by the server survives SIGKILL of its whole process group, at
  any moment (the server compacts its journal every 0.2 s here, so kills land on compactions too),
  and any number of SIGTERMs during shutdown (issue 7).
- The server's own refusals (unknown methods, an over-long request line, too many headers, a body
  that stops arriving) answer in the API's error shape.

One server for the module, restarted by the tests that kill it: four starts in all.
"""

from __future__ import annotations

import itertools
import json
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.server import LocalServer, free_port

LEVELS = (1, 2, 3, 4)
_notes = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = LocalServer(
        tmp_path_factory.mktemp("stack-data"), free_port(), "--compact-every", "0.2", "--read-timeout", "2"
    )
    srv.start("--fresh")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def lamps(server: LocalServer) -> list[tuple[str, str]]:
    """(school_id, lamp_id) of the demo school's lamps."""
    _, schools = server.request("GET", "/schools", role="dispatcher")
    school_id = schools["items"][0]["school_id"]
    _, page = server.request("GET", f"/schools/{school_id}/lamps?limit=200", role="dispatcher")
    return [(school_id, lamp["lamp_id"]) for lamp in page["items"]]


# ---- helpers ------------------------------------------------------------------------------------


def _open_ticket(server: LocalServer, school_id: str, lamp_id: str, timeout: float = 30) -> tuple[int, Any]:
    body = {
        "source": "school_report",
        "school_id": school_id,
        "lamp_ids": [lamp_id],
        "category": "flickering",
        "description": f"flickers ({next(_notes)})",
    }
    return server.request("POST", "/tickets", body, role="dispatcher", timeout=timeout)


def _change_level(server: LocalServer, ticket: dict[str, Any], timeout: float = 30) -> tuple[int, Any, str]:
    """A change to another level, with a note no other request carries."""
    note = f"change {next(_notes)}"
    level = next(level for level in LEVELS if level != ticket["level"])
    body = {"action": "change_level", "version": ticket["version"], "level": level, "note": note}
    status, reply = server.request(
        "POST", f"/tickets/{ticket['ticket_id']}/transitions", body, role="dispatcher", timeout=timeout
    )
    return status, reply, note


def _events(server: LocalServer, ticket_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, page = server.request("GET", f"/tickets/{ticket_id}/events?limit=200{cursor}", role="dispatcher")
        assert status == 200, page
        events += page["items"]
        if not page["next_cursor"]:
            return events
        cursor = f"&cursor={page['next_cursor']}"


def _ticket(server: LocalServer, ticket_id: str) -> dict[str, Any]:
    status, ticket = server.request("GET", f"/tickets/{ticket_id}", role="dispatcher")
    assert status == 200, ticket
    return ticket


def _open_count(server: LocalServer, lamp_id: str) -> int:
    status, lamp = server.request("GET", f"/lamps/{lamp_id}", role="dispatcher")
    assert status == 200, lamp
    return int(lamp["open_tickets"])


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Runs every call at once (a barrier releases them together); returns their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _assert_trail_matches(server: LocalServer, ticket: dict[str, Any], notes_by_version: dict[int, str]) -> None:
    """The audit trail has one event per version, and each confirmed change at the version it was given."""
    events = _events(server, ticket["ticket_id"])
    assert [e["seq"] for e in events] == list(range(1, ticket["version"] + 1))
    for version, note in notes_by_version.items():
        assert events[version - 1]["note"] == note


def _ref_number(ref: str) -> int:
    return int(ref.rsplit("-", 1)[1])


# ---- serializable ------------------------------------------------------------------------------


def test_concurrent_transitions_never_lose_a_confirmed_change(
    server: LocalServer, lamps: list[tuple[str, str]]
) -> None:
    school_id, lamp_id = lamps[0]
    for _ in range(10):
        before = _open_count(server, lamp_id)

        # 20 different changes of one ticket, all based on the same version: one wins
        status, ticket = _open_ticket(server, school_id, lamp_id)
        assert status == 201, ticket
        results = _race([lambda t=ticket: _change_level(server, t)] * 20)
        winners = [(reply, note) for status, reply, note in results if status == 200]
        assert len(winners) == 1, [status for status, _, _ in results]
        assert all(r["error"]["code"] == "stale_version" for s, r, _ in results if s != 200), results
        (won, note), now = winners[0], _ticket(server, ticket["ticket_id"])
        assert now["version"] == won["version"] == ticket["version"] + 1 and now["level"] == won["level"]
        _assert_trail_matches(server, now, {won["version"]: note})

        # 50 cancels, 10 for each of 5 open tickets of one lamp: one per ticket wins, the counter follows
        tickets = [now] + [_open_ticket(server, school_id, lamp_id)[1] for _ in range(4)]
        assert _open_count(server, lamp_id) == before + 5

        def cancel(t: dict[str, Any], n: int) -> tuple[str, int, Any, str]:
            note = f"cancel {t['ticket_id']} #{n}"
            body = {"action": "cancel", "version": t["version"], "note": note}
            status, reply = server.request("POST", f"/tickets/{t['ticket_id']}/transitions", body, role="dispatcher")
            return t["ticket_id"], status, reply, note

        results = _race([lambda t=t, n=n: cancel(t, n) for t in tickets for n in range(10)])
        won_by = {tid: (reply, note) for tid, status, reply, note in results if status == 200}
        assert sorted(won_by) == sorted(t["ticket_id"] for t in tickets)
        assert sum(status == 200 for _, status, _, _ in results) == 5
        assert all(r["error"]["code"] == "stale_version" for _, s, r, _ in results if s != 200)
        for t in tickets:
            reply, note = won_by[t["ticket_id"]]
            now = _ticket(server, t["ticket_id"])
            assert now["status"] == "cancelled" and now["version"] == reply["version"] == t["version"] + 1
            _assert_trail_matches(server, now, {now["version"]: note})
        assert _open_count(server, lamp_id) == before


# ---- durable -----------------------------------------------------------------------------------


class Acknowledged:
    """What the server confirmed: tickets by id with their last confirmed state, and each confirmed note."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tickets: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, dict[int, str]] = {}
        self.failures: list[str] = []  # a writer's unexpected answer (its thread cannot fail the test)
        self.stopping = threading.Event()  # set when the test stops the server: refusals are expected then

    def created(self, ticket: dict[str, Any]) -> None:
        with self.lock:
            self.tickets[ticket["ticket_id"]] = ticket
            self.notes[ticket["ticket_id"]] = {}

    def changed(self, ticket: dict[str, Any], note: str) -> None:
        with self.lock:
            self.tickets[ticket["ticket_id"]] = ticket
            self.notes[ticket["ticket_id"]][ticket["version"]] = note

    def refused(self, what: str) -> None:
        if not self.stopping.is_set():
            self.failures.append(what)

    def count(self) -> int:
        with self.lock:
            return len(self.tickets) + sum(len(n) for n in self.notes.values())


def _writer(server: LocalServer, school_id: str, lamp_id: str, acked: Acknowledged, rounds: int | None) -> None:
    """Opens a ticket and changes its level three times; `rounds` times, or until the server is cut off."""
    try:
        for _ in range(rounds) if rounds is not None else itertools.count():
            status, ticket = _open_ticket(server, school_id, lamp_id, timeout=10)
            if status != 201:
                return acked.refused(f"open: {status} {ticket}")
            acked.created(ticket)
            for _ in range(3):
                status, ticket, note = _change_level(server, ticket, timeout=10)
                if status != 200:
                    return acked.refused(f"change: {status} {ticket}")
                acked.changed(ticket, note)
    except OSError:  # the server was killed: the request in flight was never acknowledged
        return None
    except AssertionError as exc:  # an answer outside the contract (a request caught by the stop)
        return acked.refused(str(exc))
    return None


def _burst(
    server: LocalServer, lamp: tuple[str, str], acked: Acknowledged, rounds: int | None
) -> list[threading.Thread]:
    writers = [threading.Thread(target=_writer, args=(server, *lamp, acked, rounds), daemon=True) for _ in range(8)]
    for w in writers:
        w.start()
    return writers


def _opened_on(server: LocalServer, lamp_id: str) -> set[str]:
    """The tickets the lamp's history says were opened on it (written in the ticket's own transaction)."""
    opened: set[str] = set()
    cursor = ""
    while True:
        status, page = server.request("GET", f"/lamps/{lamp_id}/history?limit=200{cursor}", role="dispatcher")
        assert status == 200, page
        opened |= {e["data"]["ticket_id"] for e in page["items"] if e["kind"] == "ticket_opened"}
        if not page["next_cursor"]:
            return opened
        cursor = f"&cursor={page['next_cursor']}"


def _assert_every_acknowledged_write_is_there(server: LocalServer, acked: Acknowledged) -> None:
    assert not acked.failures
    for ticket_id, confirmed in acked.tickets.items():
        now = _ticket(server, ticket_id)
        # one more change may have landed unacknowledged (killed after moto applied it, before the answer)
        assert now["version"] in (confirmed["version"], confirmed["version"] + 1), (confirmed, now)
        assert now["ref"] == confirmed["ref"]
        _assert_trail_matches(server, now, acked.notes[ticket_id])


def _assert_restored_tickets_move_and_count(
    server: LocalServer, lamp: tuple[str, str], acked: Acknowledged, before: tuple[int, set[str]]
) -> None:
    """Every ticket opened on the lamp (acknowledged or not) is counted once and can still move;
    the next ticket number was never handed out before."""
    school_id, lamp_id = lamp
    opened = _opened_on(server, lamp_id) - before[1]
    assert set(acked.tickets) <= opened
    assert _open_count(server, lamp_id) == before[0] + len(opened)
    refs = [_ticket(server, ticket_id)["ref"] for ticket_id in opened]
    assert len(set(refs)) == len(refs)
    for ticket_id in opened:
        status, reply, _ = _change_level(server, _ticket(server, ticket_id))
        assert status == 200, reply
    status, fresh = _open_ticket(server, school_id, lamp_id)
    assert status == 201 and _ref_number(fresh["ref"]) > max(map(_ref_number, refs))


def test_writes_acknowledged_before_a_sigkill_of_the_process_group_are_kept(
    server: LocalServer, lamps: list[tuple[str, str]]
) -> None:
    lamp = lamps[1]
    before = (_open_count(server, lamp[1]), _opened_on(server, lamp[1]))
    acked = Acknowledged()
    for writer in _burst(server, lamp, acked, rounds=2):
        writer.join()
    assert not acked.failures and acked.count() == 8 * 2 * 4
    server.kill_group()  # right after the last acknowledgement: no shutdown, no final snapshot

    server.start()
    _assert_every_acknowledged_write_is_there(server, acked)
    _assert_restored_tickets_move_and_count(server, lamp, acked, before)


def test_writes_acknowledged_during_a_burst_cut_by_sigkill_are_kept(
    server: LocalServer, lamps: list[tuple[str, str]]
) -> None:
    lamp = lamps[2]
    before = (_open_count(server, lamp[1]), _opened_on(server, lamp[1]))
    acked = Acknowledged()
    writers = _burst(server, lamp, acked, rounds=None)
    deadline = time.monotonic() + 60
    while acked.count() < 60 and time.monotonic() < deadline and not acked.failures:
        time.sleep(0.01)
    server.kill_group()  # 8 writers have requests in flight
    for writer in writers:
        writer.join(timeout=30)
    assert acked.count() >= 60

    server.start()
    _assert_every_acknowledged_write_is_there(server, acked)
    _assert_restored_tickets_move_and_count(server, lamp, acked, before)


def test_signals_during_shutdown_lose_nothing(server: LocalServer, lamps: list[tuple[str, str]]) -> None:
    """`make` forwards Ctrl-C and may add a SIGTERM; an impatient user presses Ctrl-C again. Here a
    SIGTERM every 20 ms, from the middle of a burst of writes until the server has exited."""
    lamp = lamps[3]
    before = (_open_count(server, lamp[1]), _opened_on(server, lamp[1]))
    acked = Acknowledged()
    writers = _burst(server, lamp, acked, rounds=None)
    deadline = time.monotonic() + 60
    while acked.count() < 40 and time.monotonic() < deadline and not acked.failures:
        time.sleep(0.01)
    assert server.process is not None
    process, lines_before = server.process, len(server.output)
    acked.stopping.set()
    while process.poll() is None and time.monotonic() < deadline:
        process.send_signal(signal.SIGTERM)
        time.sleep(0.02)
    assert process.wait(timeout=30) == 0
    for writer in writers:
        writer.join(timeout=30)
    time.sleep(0.2)  # let the drain thread take the last lines
    printed = "".join(server.output[lines_before:])
    assert "Traceback" not in printed and "Snapshot written" in printed
    assert acked.count() >= 40

    server.start()
    _assert_every_acknowledged_write_is_there(server, acked)
    _assert_restored_tickets_move_and_count(server, lamp, acked, before)


# ---- the server's own refusals ---------------------------------------------------------------------


def _raw_exchange(server: LocalServer, data: bytes, timeout: float = 30) -> tuple[int, dict[str, str], Any]:
    """Sends raw bytes; returns the status, headers and body (parsed if JSON) of the answer, read until close."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
    is_json = headers.get("content-type") == "application/json"
    return int(status_line.split()[1]), headers, json.loads(body) if is_json else body.decode("latin-1")


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
def test_methods_the_server_does_not_support_are_405_in_our_shape(server: LocalServer, method: str) -> None:
    target = "127.0.0.1:443" if method == "CONNECT" else "/health"
    status, headers, body = _raw_exchange(server, f"{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 405 and headers["content-type"] == "application/json"
    assert body["error"]["code"] == "method_not_allowed" and method in body["error"]["message"]
    assert {"GET", "POST"} <= {m.strip() for m in headers["allow"].split(",")}
    assert "TRACE" not in headers["allow"]


def test_an_over_long_request_line_is_414_in_our_shape(server: LocalServer) -> None:
    status, headers, body = _raw_exchange(server, b"GET /health?" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
    assert status == 414 and headers["content-type"] == "application/json"
    assert body["error"]["code"] == "uri_too_long" and body["error"]["details"] == []


def test_too_many_headers_are_431_in_our_shape(server: LocalServer) -> None:
    many = b"".join(b"X-H%d: 1\r\n" % n for n in range(150))
    status, _, body = _raw_exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status == 431 and body["error"]["code"] == "headers_too_large"


def test_a_client_that_stops_sending_its_body_is_timed_out_without_stalling_others(server: LocalServer) -> None:
    """The server runs here with a 2 s read timeout (15 s by default)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as stalled:
        stalled.sendall(
            b"POST /tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 400\r\n\r\n" + b'{"source": "school'
        )
        status, _ = server.request("GET", "/health")  # served while the other request hangs
        assert status == 200
        received = b""
        while chunk := stalled.recv(65536):  # ends when the server closes the connection
            received += chunk
    assert received.startswith(b"HTTP/1.1 408 ")
    assert json.loads(received.partition(b"\r\n\r\n")[2])["error"]["code"] == "request_timeout"
