"""Done when (issue 11.6): 50 parallel consumptions racing for the last 10 units of a part leave exactly 10
successes, 40 clear 409s, stock 0, and a movement log that adds up.

On the `make run` stack (moto's server with local_aws' lock: serializable like DynamoDB), two ways:
- over HTTP: 50 `moveStock` requests at once, each taking one unit out of a depot holding 10;
- through the primitive the work record uses: 50 threads each commit a transaction holding the ticket's
  own write and `stock.add_consumption`, straight to the server's DynamoDB; the 40 refused ones wrote
  neither the stock nor their ticket write.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.contract import check_response
from tests.e2e.server import LocalServer, free_port

RACERS, UNITS = 50, 10


@pytest.fixture(scope="module")
def moto_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto_port: int) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path_factory.mktemp("stock-data"), free_port(), "--moto-port", str(moto_port))
    srv.start("--fresh")
    yield srv
    srv.stop()


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Runs every call at once (a barrier releases them together); their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _move(server: LocalServer, body: dict[str, Any], timeout: float = 30, key: str | None = None) -> tuple[int, Any]:
    """POST /stock/movements as the parts manager, with a new Idempotency-Key unless `key` (one is required)."""
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {server.token('parts_manager')}",
        "Idempotency-Key": key or str(uuid.uuid4()),
    }
    request = urllib.request.Request(
        server.base + "/stock/movements", data=json.dumps(body).encode(), method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, answered = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, raw, answered = exc.code, exc.read(), dict(exc.headers)
    check_response("POST", "/stock/movements", status, answered, raw)
    return status, json.loads(raw)


def _ok(reply: tuple[int, Any], status: int = 200) -> Any:
    assert reply[0] == status, reply
    return reply[1]


def _log(server: LocalServer, location_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = _ok(server.request("GET", f"/stock/{location_id}/movements?limit=200{cursor}", role="parts_manager"))
        items += page["items"]
        if not page["next_cursor"]:
            return items
        cursor = f"&cursor={page['next_cursor']}"


def _quantity(server: LocalServer, location_id: str, sku: str) -> int:
    stock = _ok(server.request("GET", f"/stock/{location_id}", role="parts_manager"))
    return next((i["quantity"] for i in stock["items"] if i["sku"] == sku), 0)


def _setup(server: LocalServer, sku: str) -> tuple[str, str]:
    """A part, a new depot holding the last 10 units, and the demo engineer's van."""
    _ok(
        server.request("POST", "/parts", {"sku": sku, "name": "驱动电源 40W", "installed_qty": 400}, "parts_manager"),
        201,
    )
    depot = _ok(
        server.request("POST", "/locations", {"kind": "depot", "name": f"Race depot {sku}"}, "parts_manager"), 201
    )["location_id"]
    van = _ok(server.request("GET", "/locations?engineer_id=eng-1", role="parts_manager"))["items"][0]["location_id"]
    receipt = {"kind": "received", "sku": sku, "qty": UNITS, "to_location_id": depot}
    _ok(_move(server, receipt), 201)
    return depot, van


def test_fifty_parallel_movements_over_http_for_the_last_ten_units(server: LocalServer) -> None:
    depot, van = _setup(server, "RACE-HTTP")
    take = {"kind": "issued", "sku": "RACE-HTTP", "qty": 1, "from_location_id": depot, "to_location_id": van}

    results = _race([lambda: _move(server, take, timeout=60)] * RACERS)

    won = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status != 201]
    assert len(won) == UNITS and len(refused) == RACERS - UNITS, [s for s, _ in results]
    for status, body in results:
        if status != 201:
            error = body["error"]
            assert (status, error["code"], error["sku"], error["location_id"], error["available"]) == (
                409,
                "insufficient_stock",
                "RACE-HTTP",
                depot,
                0,
            )
    assert _quantity(server, depot, "RACE-HTTP") == 0 and _quantity(server, van, "RACE-HTTP") == UNITS

    depot_log = _log(server, depot)
    assert sum(m["delta"] for m in depot_log) == 0
    assert sorted(m["movement_id"] for m in depot_log if m["kind"] == "issued") == sorted(m["movement_id"] for m in won)
    van_legs = [m for m in _log(server, van) if m["sku"] == "RACE-HTTP"]
    assert sum(m["delta"] for m in van_legs) == UNITS and len(van_legs) == UNITS


def test_fifty_parallel_consumptions_in_their_tickets_transactions_for_the_last_ten_units(
    server: LocalServer, moto_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    depot, van = _setup(server, "RACE-WORK")
    issue = {"kind": "issued", "sku": "RACE-WORK", "qty": UNITS, "from_location_id": depot, "to_location_id": van}
    _ok(_move(server, issue), 201)

    # this process talks to the server's DynamoDB directly, as the app inside it does
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{moto_port}")
    monkeypatch.setenv("LAMPCARE_TABLE_PREFIX", "local-")
    from chalicelib.domain.parts import InsufficientStock
    from chalicelib.handlers._api import reset_caches
    from chalicelib.models import stock
    from chalicelib.models.access import _connection
    from chalicelib.models.base import bind_tables
    from chalicelib.models.registry import UniqueKeyModel
    from chalicelib.models.transactions import Transaction, TransactionRefused

    reset_caches()  # the settings: the local stage's table prefix
    bind_tables("local-")
    try:
        now = dt.datetime.now(dt.UTC)

        def record_work(n: int) -> str:
            tx = Transaction()
            # stands for the ticket's own change in the work record's transaction
            work = UniqueKeyModel(f"race-work#{n}", owner_id=f"t_race_{n}")
            tx.put(work, condition=UniqueKeyModel.key.does_not_exist(), label="ticket")
            stock.add_consumption(tx, van, "RACE-WORK", 1, ticket_id=f"t_race_{n}", actor="eng-1", at=now)
            try:
                tx.commit(_connection())
            except TransactionRefused as exc:
                try:
                    stock.raise_for_stock(exc)
                except InsufficientStock as short:
                    assert (short.extra["sku"], short.extra["location_id"], short.extra["available"]) == (
                        "RACE-WORK",
                        van,
                        0,
                    )
                    return "409"
                raise
            return "ok"

        results = _race([lambda n=n: record_work(n) for n in range(RACERS)])

        assert results.count("ok") == UNITS and results.count("409") == RACERS - UNITS, results
        assert stock.get_quantity(van, "RACE-WORK") == 0
        written = {u.key for u in UniqueKeyModel.batch_get([f"race-work#{n}" for n in range(RACERS)])}
        assert written == {f"race-work#{n}" for n, r in enumerate(results) if r == "ok"}  # all or nothing
        consumed = [m for m in stock.query_movements(van, 200, None).items if m.sku == "RACE-WORK"]
        assert sum(int(m.delta) for m in consumed) == 0  # +10 issued, 10 x -1 consumed
        assert sorted(m.ticket_id for m in consumed if m.kind == "consumed") == sorted(
            f"t_race_{n}" for n, r in enumerate(results) if r == "ok"
        )
    finally:
        monkeypatch.undo()
        reset_caches()
        bind_tables("test-")


def test_a_movement_sent_ten_times_at_once_with_one_key_moves_once_and_answers_each_alike(server: LocalServer) -> None:
    depot, van = _setup(server, "RACE-KEY")
    take = {"kind": "issued", "sku": "RACE-KEY", "qty": 4, "from_location_id": depot, "to_location_id": van}
    key = str(uuid.uuid4())

    results = _race([lambda: _move(server, take, timeout=60, key=key)] * 10)

    assert {status for status, _ in results} == {201}, results
    assert len({json.dumps(body, sort_keys=True) for _, body in results}) == 1
    assert _quantity(server, depot, "RACE-KEY") == UNITS - 4 and _quantity(server, van, "RACE-KEY") == 4
    assert [m["kind"] for m in _log(server, depot)] == ["issued", "received"]
