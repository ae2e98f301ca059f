"""The handler boundary is typed: a wrong call from a handler into a service fails mypy (`make test` runs it)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_handler_calling_a_service_with_the_wrong_arguments_fails_type_checking(tmp_path, monkeypatch):
    from mypy import api

    wrong_call = (
        "from chalicelib.handlers.tickets import tickets\n"
        "from chalicelib.auth import Principal\n"
        "def f(actor: Principal) -> None:\n"
        "    tickets.create_ticket('not a TicketIn', actor)\n"
    )
    snippet = tmp_path / "wrong_call.py"
    snippet.write_text(wrong_call)
    monkeypatch.chdir(ROOT)
    out, _, status = api.run(["--config-file", str(ROOT / "mypy.ini"), "--cache-dir", str(tmp_path), str(snippet)])
    assert status == 1, out
    assert 'Argument 1 to "create_ticket" has incompatible type "str"; expected "TicketIn"' in out
