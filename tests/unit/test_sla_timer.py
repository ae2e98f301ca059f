"""The SLA timer's rules (chalicelib.domain.sla_timer) and its writes (chalicelib.models.sla) with a fixed
clock, and the state machine's agreement with them (infra/sla_timer.asl.json): no AWS.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest

from chalicelib.domain import sla_timer
from chalicelib.domain.sla_timer import Entry, Rung, TimerState
from chalicelib.models import sla as models
from infra import sla_timer as machine

REPORTED = dt.datetime(2026, 11, 24, 9, 58, 0, 250000, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
RED = {"response": REPORTED + 5 * MIN, "onsite": REPORTED + 10 * MIN, "resolution": None}
# DOMAIN's ladder (D-S4) as the default policy has it
LADDER = [
    Rung(1, "response", RED["response"], ("expert", "dispatcher")),
    Rung(2, "onsite", RED["onsite"], ("project_lead", "dispatcher")),
    Rung(3, "onsite", RED["onsite"] + 60 * MIN, ("technical_manager",)),
]
OPEN_ROLES = ("parts_manager", "project_lead", "technical_manager")


def red_plan() -> list[Entry]:
    return sla_timer.plan_entries(RED, LADDER, OPEN_ROLES, REPORTED)


def test_a_red_ticket_tells_its_roles_then_watches_each_deadline_and_the_later_rung():
    plan = red_plan()
    assert [(e.key, e.kind, e.at - REPORTED, e.step, e.roles) for e in plan] == [
        ("notify", "notify", dt.timedelta(0), 0, OPEN_ROLES),
        ("response", "breach", 5 * MIN, 1, ("expert", "dispatcher")),
        ("onsite", "breach", 10 * MIN, 2, ("project_lead", "dispatcher")),
        ("onsite.3", "escalation", 70 * MIN, 3, ("technical_manager",)),
    ]
    assert plan[3].deadline == RED["onsite"]  # an escalation keeps the deadline it is about


def test_a_resolution_target_adds_a_breach_without_anyone_to_tell_unless_a_rung_follows_it():
    due = {**RED, "resolution": REPORTED + 12 * 60 * MIN}
    plan = sla_timer.plan_entries(due, LADDER, OPEN_ROLES, REPORTED)
    resolution = plan[-1]
    assert (resolution.key, resolution.kind, resolution.step, resolution.roles) == ("resolution", "breach", 0, ())


def test_rungs_due_together_at_a_deadline_ride_one_breach_with_the_highest_step_and_every_role():
    rungs = [
        Rung(2, "onsite", RED["onsite"], ("project_lead",)),
        Rung(3, "onsite", RED["onsite"], ("technical_manager", "project_lead")),
    ]
    onsite = next(e for e in sla_timer.plan_entries(RED, rungs, (), REPORTED) if e.key == "onsite")
    assert (onsite.step, onsite.roles) == (3, ("project_lead", "technical_manager"))


def test_an_entry_survives_its_trip_through_the_ticket():
    for entry in red_plan():
        assert Entry.from_json(json.loads(json.dumps(entry.to_json()))) == entry


STATE = TimerState(sla_version=1, notified_version=1)


@pytest.mark.parametrize(
    ("state", "pending_keys"),
    [
        (STATE, ["response", "onsite", "onsite.3"]),
        (TimerState(sla_version=1), ["notify", "response", "onsite", "onsite.3"]),
        (TimerState(sla_version=2, notified_version=1), ["notify", "response", "onsite", "onsite.3"]),
        (TimerState(1, 1, met=frozenset({"response"})), ["onsite", "onsite.3"]),
        (TimerState(1, 1, breached=frozenset({"response"}), escalation_step=1), ["onsite", "onsite.3"]),
        (TimerState(1, 1, met=frozenset({"response", "onsite"})), []),
        # resolved by phone: nobody need go on site
        (TimerState(1, 1, met=frozenset({"response", "resolution"})), []),
        (TimerState(1, 1, breached=frozenset({"response", "onsite"}), escalation_step=2), ["onsite.3"]),
        (TimerState(1, 1, breached=frozenset({"response", "onsite"}), escalation_step=3), []),
        (TimerState(1, 0, final=True), []),
    ],
)
def test_what_is_left_to_do_follows_the_milestones_the_breaches_and_the_step(state, pending_keys):
    plan = red_plan()
    assert [e.key for e in plan if sla_timer.pending(e, state)] == pending_keys
    expected = min((e.at for e in plan if e.key in pending_keys), default=None)
    assert sla_timer.next_due(plan, state) == expected


def test_only_entries_due_by_the_time_asked_are_due():
    plan = red_plan()
    assert [e.key for e in sla_timer.due_entries(plan, STATE, RED["onsite"])] == ["response", "onsite"]
    assert [e.key for e in sla_timer.due_entries(plan, STATE, RED["onsite"] - dt.timedelta(microseconds=1))] == [
        "response"
    ]


@pytest.mark.parametrize(
    ("deadline", "handed_over"),
    [
        ("2026-11-24T10:00:00+00:00", "2026-11-24T10:00:01Z"),
        ("2026-11-24T10:00:00.001+00:00", "2026-11-24T10:00:02Z"),
        ("2026-11-24T18:00:00.999+08:00", "2026-11-24T10:00:02Z"),
        ("2026-11-30T23:59:59.5+00:00", "2026-12-01T00:00:01Z"),
    ],
)
def test_a_timer_is_handed_its_deadline_in_utc_with_z_rounded_up_so_it_never_fires_early(deadline, handed_over):
    """moto truncates both the timestamp and the wait to whole seconds: a whole second up, plus one."""
    moment = dt.datetime.fromisoformat(deadline)
    assert sla_timer.wait_timestamp(moment) == handed_over
    handed = dt.datetime.fromisoformat(handed_over.replace("Z", "+00:00"))
    assert dt.timedelta(seconds=1) <= handed - moment <= dt.timedelta(seconds=2)
    truncated_wait_ends = handed.replace(microsecond=0) - dt.timedelta(seconds=1)  # moto's worst case
    assert truncated_wait_ends >= moment.replace(microsecond=0)


def test_the_due_index_key_sorts_as_time_does_whatever_the_fraction_or_zone():
    moments = [
        dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 24, 10, 0, 0, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 24, 18, 0, 0, 500000, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        dt.datetime(2026, 11, 24, 10, 0, 1, tzinfo=dt.UTC),
    ]
    texts = [sla_timer.due_text(m) for m in moments]
    assert sorted(texts) == texts and len({len(t) for t in texts}) == 1


# ---- the writes ---------------------------------------------------------------------------------


FACTS = models.TicketFacts("t_1", "T-2026-000001", "s_1", "c_1", 4, 1)


def prepared(entry_key: str) -> dict[str, Any]:
    plan = red_plan()
    index = next(i for i, e in enumerate(plan) if e.key == entry_key)
    entry = plan[index]
    next_at = plan[index + 1].at if index + 1 < len(plan) else None
    notes = [models.Note(role, f"arn:topic:{role}", "subject", "message") for role in entry.roles]
    return models.entry_writes(entry, next_at, FACTS, notes)


def _referenced(expression: str, kind: str) -> set[str]:
    return set(re.findall(r"#\w+" if kind == "names" else r":\w+", expression))


@pytest.mark.parametrize("key", ["notify", "response", "onsite", "onsite.3"])
def test_every_name_and_value_an_entry_write_uses_is_defined_and_every_one_defined_is_used(key):
    entry = prepared(key)
    for write in (entry["write"], entry["write_keeping_step"]):
        if write is None:
            continue
        text = write["UpdateExpression"] + " " + write["ConditionExpression"]
        assert _referenced(text, "names") == set(write["ExpressionAttributeNames"])
        assert _referenced(text, "values") == set(write["ExpressionAttributeValues"])
    if entry["record"] is not None:
        record = entry["record"]
        stamped = set(record["ExpressionAttributeValues"]) | {":recorded_at", ":recorded_by"}
        assert _referenced(record["UpdateExpression"], "values") == stamped
        assert _referenced(record["UpdateExpression"], "names") == set(record["ExpressionAttributeNames"])


def test_a_breach_write_checks_the_milestone_the_breach_the_version_and_the_status_and_bumps_the_version():
    write = prepared("onsite")["write"]
    condition, names = write["ConditionExpression"], write["ExpressionAttributeNames"]
    assert "attribute_not_exists(#met_onsite) AND attribute_not_exists(#met_resolution)" in condition
    assert (names["#met_onsite"], names["#met_resolution"]) == ("on_site_at", "resolved_at")
    assert "attribute_not_exists(#breached_at)" in condition and names["#breached_at"] == "onsite_breached_at"
    assert "#sla_version = :sla_version" in condition
    assert "NOT (#status IN (:closed, :cancelled, :merged))" in condition
    assert "(attribute_not_exists(#escalation_step) OR #escalation_step < :step)" in condition
    assert "#version = #version + :one" in write["UpdateExpression"]
    assert write["ExpressionAttributeValues"][":step"] == {"N": "2"}
    # the next entry (the technical manager's rung) becomes the due index's key
    assert write["ExpressionAttributeValues"][":next_due_at"] == {"S": sla_timer.due_text(RED["onsite"] + 60 * MIN)}


def test_a_breach_whose_step_the_ticket_passed_is_still_recorded_but_the_step_is_kept():
    keeping = prepared("onsite")["write_keeping_step"]
    assert "#escalation_step >= :step" in keeping["ConditionExpression"]
    assert "#escalation_step =" not in keeping["UpdateExpression"]
    assert "#breached_at = :breached_at" in keeping["UpdateExpression"]


def test_the_notification_entry_does_not_change_the_tickets_version():
    write = prepared("notify")["write"]
    assert "#version" not in write["UpdateExpression"]
    assert "#notified_version = :sla_version" in write["UpdateExpression"]


def test_the_last_entry_takes_the_ticket_out_of_the_due_index():
    assert "REMOVE #next_due_at, #sla_due" in prepared("onsite.3")["write"]["UpdateExpression"]


def test_notifications_are_keyed_once_per_ticket_role_and_entry():
    assert [n["key"]["notification_key"]["S"] for n in prepared("notify")["notify"]] == [
        "open.parts_manager",
        "open.project_lead",
        "open.technical_manager",
    ]
    assert [n["key"]["notification_key"]["S"] for n in prepared("onsite.3")["notify"]] == ["onsite.3.technical_manager"]


def _states(node: Any) -> dict[str, Any]:
    """Every state of the machine by name, those of the Map's processor included."""
    found: dict[str, Any] = {}
    for name, state in node["States"].items():
        found[name] = state
        if "ItemProcessor" in state:
            found.update(_states(state["ItemProcessor"]))
    return found


def test_a_claim_enters_the_undelivered_index_and_every_stored_result_takes_it_out():
    item = prepared("response")["notify"][0]["item"]
    assert item["result"] == {"S": "pending"} and item["undelivered"] == {"S": models.UNDELIVERED}
    index = models.NotificationModel.by_undelivered
    assert (index.Meta.index_name, index._hash_key_attribute().attr_name) == ("by_undelivered", "undelivered")

    states = _states(json.loads(machine.DEFINITION_PATH.read_text()))
    stores = {
        name: state["Parameters"]
        for name, state in states.items()
        if state.get("Resource", "").endswith("dynamodb:updateItem")
        and state["Parameters"].get("TableName") == "${NotificationsTable}"
    }
    assert set(stores) == {"StoreDelivery", "StoreFailure"}
    for name, parameters in stores.items():
        assert parameters["UpdateExpression"].endswith(" REMOVE #undelivered"), name
        assert parameters["ExpressionAttributeNames"]["#undelivered"] == "undelivered", name
    claim = states["Claim"]["Parameters"]
    assert claim["Item.$"].startswith("States.JsonMerge($.note.item,")  # the item above, undelivered and all


# ---- the state machine reads what the input carries ---------------------------------------------------


def _paths(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for value in node.values():
            _paths(value, found)
    elif isinstance(node, list):
        for value in node:
            _paths(value, found)
    elif isinstance(node, str):
        found.update(re.findall(r"\$\.(?:current\.entry|note)(?:\.\w+)+", node))
    return found


def test_the_state_machine_reads_only_what_the_timer_input_carries():
    definition = json.loads(machine.DEFINITION_PATH.read_text())
    entry = prepared("onsite")
    note = entry["notify"][0]
    for path in sorted(_paths(definition, set())):
        parts = path.split(".")[1:]
        value: Any = {"current": {"entry": entry}, "note": note}
        for part in parts:
            assert isinstance(value, dict) and part in value, f"{path}: not in the timer's input"
            value = value[part]


def test_the_state_machine_names_its_tables_by_placeholders_the_local_stack_and_the_template_fill():
    from chalicelib.models.sla import NotificationModel, SlaRecordModel
    from chalicelib.models.tickets import TicketModel

    assert machine.placeholders() == set(machine.TABLES)
    bases = {m.Meta.base_name for m in (TicketModel, SlaRecordModel, NotificationModel)}
    assert set(machine.TABLES.values()) == bases
    assert "${" not in machine.definition("test-")


def test_a_level_that_names_nobody_has_no_opening_notification():
    plan = sla_timer.plan_entries(RED, LADDER, (), REPORTED)
    assert [e.key for e in plan] == ["response", "onsite", "onsite.3"]


def test_the_deployed_state_machine_is_the_asl_file_with_every_placeholder_substituted():
    from infra import resources

    built = resources.build()["Resources"]
    machine_properties = built["SlaTimer"]["Properties"]
    substitutions = machine_properties["DefinitionSubstitutions"]
    # Deployed, the service integrations take the stack's partition (issue 14): StatesX -> arn:<partition>:states:::x
    integrations = {k: v["Fn::Sub"] for k, v in substitutions.items() if isinstance(v, dict) and ":states:::" in str(v)}
    text = json.dumps(machine_properties["Definition"])
    for placeholder, arn in integrations.items():
        text = text.replace("${" + placeholder + "}", arn.replace("${AWS::Partition}", "aws"))
    assert json.loads(text) == json.loads(machine.DEFINITION_PATH.read_text())
    assert set(substitutions) - set(integrations) == machine.placeholders()
    topics = {r["Properties"]["TopicName"]["Fn::Sub"] for k, r in built.items() if k.startswith("RoleTopic")}
    assert topics == {f"lampcare-${{Stage}}-{role}" for role in machine.supplier_roles()}


def test_the_deployed_function_may_start_and_stop_timers_and_publish_to_every_role_topic():
    from pathlib import Path

    policy = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "policy-prod.json").read_text())
    allowed: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        if "NotResource" in statement:  # SMS to a phone number (no ARN): never a topic
            continue
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in statement["Action"]:
            allowed.setdefault(action, set()).update(resources)
    assert {f"arn:*:sns:*:*:lampcare-prod-{role}" for role in machine.supplier_roles()} <= allowed["sns:Publish"]
    assert allowed["states:StartExecution"] == {"arn:*:states:*:*:stateMachine:lampcare-prod-sla-timer"}
    assert allowed["states:StopExecution"] == {"arn:*:states:*:*:execution:lampcare-prod-sla-timer:*"}
