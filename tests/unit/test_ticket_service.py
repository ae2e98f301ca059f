"""The ticket use cases with an in-memory store and a fixed clock: no AWS, no HTTP (D-S3, D-O2, D-A2).

These rules are about what one change writes (its audit event, the lamp's fault count and history,
the version): easier to see in a fake store than through HTTP and moto.
"""

from __future__ import annotations

import datetime as dt

import pytest

from chalicelib.auth import Principal, Role
from chalicelib.domain.lifecycle import SCHOOL_GAVE_IT, SignOff
from chalicelib.domain.policy import default_policy
from chalicelib.errors import StaleVersion
from chalicelib.models.access import ContractModel, LampModel, SchoolModel, UserModel
from chalicelib.schemas import TicketIn, TransitionIn
from chalicelib.services import tickets
from tests.support.fakes import InMemoryTicketStore

REPORTED = dt.datetime(2026, 11, 24, 9, 58, tzinfo=dt.UTC)
DISPATCHER = Principal(sub="disp-1", roles=frozenset({Role.DISPATCHER}))
ENGINEER = Principal(sub="eng-1", roles=frozenset({Role.ENGINEER}))


@pytest.fixture
def store() -> InMemoryTicketStore:
    fake = InMemoryTicketStore()
    fake.add(
        ContractModel(
            "c_1",
            code="P1",
            name="Retrofit",
            policy=default_policy().model_dump(mode="json"),
            warranty={"years": 5},
            created_at=REPORTED,
        ),
        SchoolModel(
            "s_1",
            contract_id="c_1",
            code="SCH1",
            name="No. 1 Primary",
            name_key="no. 1#s_1",
            address="1 Road",
            latitude=31.2,
            longitude=121.4,
            created_at=REPORTED,
        ),
        LampModel(
            "l_1",
            asset_no="SCH1-00001",
            school_id="s_1",
            room_id="A-101",
            position="1",
            model="EP-LED-40",
            serial="SN1",
            installed_on="2025-08-20",
            accepted_on="2025-09-01",
            warranty_years=5,
            warranty_end="2030-09-01",
            open_tickets=0,
            qr_token="tok",
            created_at=REPORTED,
        ),
        UserModel("eng-1", name="Engineer One", role="engineer"),
    )
    return fake


def change(action: str, version: int, **fields: object) -> TransitionIn:
    if action == "sign_off":  # built by the sign-off service once the school gave it, never a body (D-O2)
        body = {"action": action, "version": version, "method": "signature", **fields}
        return TransitionIn.model_construct(root=SignOff.model_validate(body, context={SCHOOL_GAVE_IT: True}))
    return TransitionIn.model_validate({"action": action, "version": version, **fields})


def report(store: InMemoryTicketStore, level: int = 4) -> tickets.TicketOut:
    body = TicketIn.model_validate(
        {
            "source": "school_report",
            "school_id": "s_1",
            "lamp_ids": ["l_1"],
            "category": "not_lit",
            "level": level,
            "description": "Front row dark",
        }
    )
    return tickets.create_ticket(body, DISPATCHER, now=REPORTED, store=store)


def test_a_report_counts_an_open_fault_on_its_lamp_and_starts_its_history(store):
    ticket = report(store)
    assert ticket.ref == "T-2026-000001" and ticket.version == 1
    assert ticket.onsite_due == REPORTED + dt.timedelta(minutes=10)  # red: on site within 10 min (D-S)
    assert store.lamps["l_1"].open_tickets == 1
    assert [h.kind for h in store.history["l_1"]] == ["ticket_opened"]


def test_every_change_writes_one_event_whose_sequence_follows_the_version(store):
    ticket = report(store)
    steps = [
        ("triage", DISPATCHER, {}),
        ("assign", DISPATCHER, {"assignee_id": "eng-1"}),
        ("acknowledge", ENGINEER, {}),
        ("resolve", ENGINEER, {"note": "Swapped the driver"}),
        ("sign_off", ENGINEER, {"signer_name": "Ms Wang"}),
        ("close", DISPATCHER, {}),
    ]
    for minute, (action, actor, fields) in enumerate(steps, start=1):
        now = REPORTED + dt.timedelta(minutes=minute)
        ticket = tickets.transition_ticket(
            ticket.ticket_id, change(action, ticket.version, **fields), actor, now=now, store=store
        )
    events = store.events[ticket.ticket_id]
    assert [int(e.seq) for e in events] == list(range(1, ticket.version + 1))
    assert [e.action for e in events] == ["create"] + [a for a, _, _ in steps]
    assert ticket.milestones["acknowledged_at"] == (REPORTED + dt.timedelta(minutes=3)).isoformat()
    assert store.lamps["l_1"].open_tickets == 0  # closed: the lamp no longer shows a fault (D-A3)
    assert [h.kind for h in store.history["l_1"]] == [
        "ticket_opened",
        "ticket_resolve",
        "ticket_sign_off",
        "ticket_close",
    ]


def test_an_event_records_before_and_after_of_exactly_the_fields_that_changed(store):
    ticket = report(store, level=2)
    ticket = tickets.transition_ticket(
        ticket.ticket_id,
        change("change_level", 1, level=4),
        DISPATCHER,
        now=REPORTED + dt.timedelta(minutes=1),
        store=store,
    )
    event = store.events[ticket.ticket_id][-1]
    assert set(event.after) == {"level", "onsite_due", "response_due"}  # confirmed already: reported with a level
    assert (event.before["level"], event.after["level"]) == (2, 4)
    assert event.after["onsite_due"] == (REPORTED + dt.timedelta(minutes=10)).isoformat()  # from the report (D-S3)


def test_a_change_based_on_an_old_version_writes_nothing_and_names_the_current_one(store):
    ticket = report(store)
    tickets.transition_ticket(ticket.ticket_id, change("triage", 1), DISPATCHER, now=REPORTED, store=store)
    writes = store.writes
    with pytest.raises(StaleVersion) as refused:
        tickets.transition_ticket(
            ticket.ticket_id, change("cancel", 1, note="duplicate"), DISPATCHER, now=REPORTED, store=store
        )
    assert refused.value.extra == {"current_version": 2, "current_status": "triaged"}
    assert store.writes == writes and len(store.events[ticket.ticket_id]) == 2
