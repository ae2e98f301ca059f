"""An inspection visit's checklist items, its completion, a room's light trend and a contract's light
targets (issue 12.3, 12.4, 12.7; D-I3..D-I5, D-S6).

- `record_item`: the assigned engineer records a lamp's checklist or a room's readings while the visit is
  in progress; the answer carries the verdict (GB 7793's targets unless the contract changed them). One
  item per lamp or room per visit: recording it again replaces it. A guarded write: the item, a room's
  reading line, the guard and the checks that the visit is still his and in progress and that the lamp or
  room is the school's go in ONE transaction (2 round trips for a lamp, 3 for a room: its targets).
- `complete_visit`: the school's sign-off (the OTP or signature of services.sign_off, with the visit as
  its subject) and the findings' tickets (D-S6). Each finding opens a ticket through
  `services.tickets.create_ticket` (source inspection, the contract's normal SLA, the lamp or room),
  with an id derived from (visit, item): a retry after a crash finds the tickets already opened and opens
  only the missing ones, never a second one. Then the visit's completion, the links to the tickets, the
  sign-off record, "code used" and the write's guard commit in one transaction
  (`models.inspections.apply_visit_change`); a retry after that is answered from the guard.
- `room_light_trend`: one Query of the room's readings; per measure a least-squares slope, the projected
  crossing date and a flag (domain.inspection_checks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain import inspection_checks as checks
from chalicelib.domain.inspection_checks import (
    GB_7793,
    LABELS_ZH,
    UNITS,
    LampCheck,
    LightTargets,
    Measure,
    RoomReadings,
)
from chalicelib.domain.inspection_plans import CHINA, VisitStatus
from chalicelib.domain.sign_off import sign_off_record
from chalicelib.domain.tickets import Category, Source
from chalicelib.errors import Conflict, FieldProblem, IllegalTransition, InvalidInput, NotFound
from chalicelib.guards import WriteGuard
from chalicelib.models import access, inspections
from chalicelib.models import inspection_items as store
from chalicelib.models import sign_off as sign_off_store
from chalicelib.models.inspection_items import InspectionItemModel, LightTargetsModel, RoomReadingModel
from chalicelib.models.inspections import InspectionVisitModel
from chalicelib.schemas import TicketIn
from chalicelib.schemas_inspection_items import (
    CompleteInspectionVisitIn,
    FindingOut,
    InspectionCompletionOut,
    InspectionItemIn,
    InspectionItemOut,
    InspectionPhotosOut,
    InspectionSignOffOut,
    ItemKind,
    LampChecksIn,
    LightTargetsIn,
    LightTargetsOut,
    MeasureOut,
    MeasureTrendOut,
    ReadingOut,
    RoomLightTrendOut,
    RoomReadingsIn,
)
from chalicelib.schemas_sign_off import (
    AttachTicketPhotoIn,
    SignOffRequestIn,
    SignOffRequestOut,
    TicketPhotoUploadIn,
    TicketPhotoUploadOut,
)
from chalicelib.services import sign_off, ticket_photos, tickets
from chalicelib.services.ids import utcnow
from chalicelib.services.inspections import load_visit
from chalicelib.services.scope import require_school

__all__ = [
    "complete_visit",
    "get_light_targets",
    "put_light_targets",
    "readable_visit",
    "attach_photo",
    "create_photo_upload",
    "record_item",
    "request_visit_sign_off",
    "room_light_trend",
    "targets_for",
]


# ---- targets ------------------------------------------------------------------------------------------


def _targets_of(item: LightTargetsModel | None) -> LightTargets:
    if item is None:
        return GB_7793
    return GB_7793.with_overrides(dict(item.minimums or {}), item.flicker_allowed)


def targets_for(contract_id: str) -> LightTargets:
    """GB 7793's targets with the contract's changes (one GetItem)."""
    return _targets_of(store.get_targets(contract_id))


def measures_view(targets: LightTargets, values: Mapping[str, float | None] | None = None) -> list[MeasureOut]:
    values = values or {}
    out = []
    for measure in Measure:
        value = values.get(measure.value)
        minimum = targets.minimums[measure]
        out.append(
            MeasureOut(
                measure=measure,
                label=LABELS_ZH[measure],
                value=value,
                minimum=minimum,
                unit=UNITS[measure],
                ok=None if value is None else value >= minimum,
            )
        )
    return out


def _targets_view(contract_id: str, item: LightTargetsModel | None) -> LightTargetsOut:
    targets = _targets_of(item)
    return LightTargetsOut(
        contract_id=contract_id,
        source=targets.source,
        targets=measures_view(targets),
        overrides={k: float(v) for k, v in (item.minimums or {}).items()} if item else {},
        flicker_allowed=targets.flicker_allowed,
        note=item.note if item else "",
        version=int(item.version) if item and item.version else 0,
        updated_at=item.updated_at if item else None,
        updated_by=item.updated_by if item else None,
    )


def get_light_targets(contract_id: str) -> LightTargetsOut:
    access.get_contract(contract_id)  # 404 for an unknown contract
    return _targets_view(contract_id, store.get_targets(contract_id))


def put_light_targets(
    contract_id: str, body: LightTargetsIn, actor: Principal, now: dt.datetime | None = None
) -> LightTargetsOut:
    """The contract's changes to GB 7793's targets; `version` is the one read (null for the first)."""
    now = now or utcnow()
    access.get_contract(contract_id)
    minimums = {k: v for k, v in body.minimums.model_dump().items() if v is not None}
    item = LightTargetsModel(
        contract_id,
        minimums=minimums,
        flicker_allowed=body.flicker_allowed,
        note=body.note,
        updated_at=now,
        updated_by=actor.sub,
    )
    store.put_targets(item, body.version)
    return _targets_view(contract_id, item)


# ---- items --------------------------------------------------------------------------------------------


def readable_visit(visit_id: str, actor: Principal) -> InspectionVisitModel:
    """The visit, or 404; another school's is 404 too, worded as for one that does not exist (D-A3)."""
    visit = load_visit(visit_id)
    require_school(actor, visit.school_id, what="inspection visit", key=visit_id)
    return visit


def _readings(body: RoomReadingsIn) -> RoomReadings:
    values = body.model_dump(exclude={"flicker_visible"})
    return RoomReadings({Measure(k): v for k, v in values.items()}, flicker_visible=body.flicker_visible)


def item_view(item: InspectionItemModel, ticket_id: str | None = None) -> InspectionItemOut:
    verdict: dict[str, Any] = item.verdict or {}
    is_lamp = item.kind == ItemKind.LAMP.value
    measures: list[MeasureOut] = []
    if not is_lamp:
        minimums = verdict.get("minimums") or {}
        targets = GB_7793.with_overrides(minimums)
        measures = measures_view(targets, item.checks)
    return InspectionItemOut(
        visit_id=item.visit_id,
        item_key=item.item_key,
        kind=ItemKind(item.kind),
        school_id=item.school_id,
        lamp_id=item.lamp_id or None,
        room_id=item.room_id or None,
        checks=LampChecksIn.model_validate(item.checks) if is_lamp else None,
        readings=None if is_lamp else RoomReadingsIn.model_validate(item.checks),
        ok=bool(verdict.get("ok")),
        problems=list(verdict.get("problems") or []),
        measures=measures,
        targets_source=None if is_lamp else str(verdict.get("targets_source") or GB_7793.source),
        finding=bool(item.finding),
        category=item.category,
        fixed_on_spot=item.fixed_on_spot,
        note=item.note,
        recorded_by=item.recorded_by,
        recorded_at=item.recorded_at,
        device_at=item.device_at,
        ticket_id=ticket_id,
    )


def record_item(
    visit_id: str, body: InspectionItemIn, actor: Principal, guard: WriteGuard | None, now: dt.datetime | None = None
) -> InspectionItemOut:
    now = now or utcnow()
    visit = readable_visit(visit_id, actor)
    checks.check_recording(visit.status, visit.assignee_id, actor.sub)
    common: dict[str, Any] = {
        "school_id": visit.school_id,
        "fixed_on_spot": body.fixed_on_spot,
        "note": body.note,
        "recorded_by": actor.sub,
        "recorded_at": now,
        "device_at": body.device_at,
    }
    reading: RoomReadingModel | None = None
    history = None
    if body.kind == ItemKind.LAMP:
        assert body.lamp_id is not None and body.checks is not None  # the schema requires them for a lamp
        lamp = checks.judge_lamp(LampCheck(**body.checks.model_dump(), fixed_on_spot=body.fixed_on_spot))
        item = InspectionItemModel(
            visit_id,
            f"lamp#{body.lamp_id}",
            kind=ItemKind.LAMP.value,
            lamp_id=body.lamp_id,
            checks=body.checks.model_dump(),
            verdict={"ok": lamp.ok, "problems": list(lamp.problems)},
            finding=lamp.finding,
            category=lamp.category.value if lamp.category else None,
            **common,
        )
        found = ", ".join(lamp.problems) or "ok"
        done = f"; fixed on the spot: {body.fixed_on_spot}" if body.fixed_on_spot else ""
        history = access.history_entry(
            body.lamp_id,
            visit.started_at or now,  # the visit's moment: recording the lamp again replaces this line
            "inspection",
            ref=visit_id,
            actor=actor.sub,
            summary=f"{visit.style} inspection {visit.period}: {found}{done}"[:200],
            data={"visit_id": visit_id, "problems": list(lamp.problems), "finding": lamp.finding},
        )
    else:
        assert body.room_id is not None and body.readings is not None
        targets = targets_for(visit.contract_id)
        room = checks.judge_room(_readings(body.readings), targets)
        values = body.readings.model_dump()
        item = InspectionItemModel(
            visit_id,
            f"room#{body.room_id}",
            kind=ItemKind.ROOM.value,
            room_id=body.room_id,
            checks=values,
            verdict={
                "ok": room.compliant,
                "problems": list(room.failed),
                "targets_source": targets.source,
                "minimums": {m.value: v for m, v in targets.minimums.items()},
            },
            finding=room.finding,
            category=room.category.value if room.category else None,
            **common,
        )
        reading = RoomReadingModel(
            store.room_key(visit.school_id, body.room_id),
            store.reading_key(visit.started_at or now, visit_id),
            visit_id=visit_id,
            measured_at=now,  # server time: a phone's clock may be off, and the trend is drawn against time
            values={k: v for k, v in values.items() if k != "flicker_visible"},
            flicker_visible=body.readings.flicker_visible,
            compliant=room.compliant,
            recorded_by=actor.sub,
        )
    answer = item_view(item)
    try:
        store.record_item(item, reading, guard.seal(answer) if guard else None, assignee_id=actor.sub, history=history)
    except store.VisitClosed as exc:
        current = load_visit(visit_id)
        raise IllegalTransition(
            f"the visit is {current.status}: its items can no longer change",
            extra={"current_status": current.status},
        ) from exc
    except store.NotInSchool as exc:
        field = "lamp_id" if body.kind == ItemKind.LAMP else "room_id"
        what = "an installed lamp" if body.kind == ItemKind.LAMP else "a room"
        raise InvalidInput(
            f"the {field.removesuffix('_id')} is not one of the school's",
            details=[FieldProblem(field, f"not {what} of school '{visit.school_id}'")],
        ) from exc
    return answer


# ---- photos ---------------------------------------------------------------------------------------------


def create_photo_upload(
    visit_id: str, body: TicketPhotoUploadIn, actor: Principal, guard: WriteGuard | None, now: dt.datetime | None = None
) -> TicketPhotoUploadOut:
    """A photo of the visit (a broken lamp, a dark corner), uploaded as a ticket's visit photo is
    (services.ticket_photos): a presigned POST to the private bucket; the visit is its subject."""
    now = now or utcnow()
    visit = readable_visit(visit_id, actor)
    checks.check_recording(visit.status, visit.assignee_id, actor.sub)
    return ticket_photos.photo_form(visit.visit_id, body, guard, now)


def attach_photo(
    visit_id: str, body: AttachTicketPhotoIn, actor: Principal, guard: WriteGuard | None, now: dt.datetime | None = None
) -> InspectionPhotosOut:
    """Checks the upload (exists, size, real type) as a ticket's, then adds it to the visit with the write's
    guard in one transaction (the visit's version: a concurrent change is 409, send it again)."""
    now = now or utcnow()
    visit = readable_visit(visit_id, actor)
    checks.check_recording(visit.status, visit.assignee_id, actor.sub)
    current = list(visit.visit_photos or [])
    if any(p.get("photo_id") == body.upload_id for p in current):
        raise Conflict("this photo is already attached", details=[FieldProblem("upload_id", "already attached")])
    if len(current) >= ticket_photos.MAX_PHOTOS:
        raise InvalidInput(
            f"a visit keeps at most {ticket_photos.MAX_PHOTOS} photos",
            details=[FieldProblem("upload_id", "too many photos")],
        )
    visit.visit_photos = [*current, ticket_photos.photo_record(visit.visit_id, body, actor, now)]
    visit.updated_at = now
    answer = InspectionPhotosOut(
        visit_id=visit.visit_id,
        version=int(visit.version) + 1,  # as it will be once written
        items=[ticket_photos.photo_view(p, link=False) for p in visit.visit_photos],
    )
    inspections.apply_visit_change(visit, guard=guard.seal(answer) if guard else None)
    return answer


# ---- sign-off and completion ---------------------------------------------------------------------------


def request_visit_sign_off(
    visit_id: str, body: SignOffRequestIn, actor: Principal, guard: WriteGuard | None, now: dt.datetime | None = None
) -> SignOffRequestOut:
    """The school's sign-off of the visit, asked for as a ticket's is (services.sign_off): a code by SMS to
    the school's contact on record, or an upload form for the contact's signature; the visit is its subject."""
    now = now or utcnow()
    visit = readable_visit(visit_id, actor)
    checks.check_recording(visit.status, visit.assignee_id, actor.sub, completing=True)
    ref = f"巡检 inspection {visit.period}"
    return sign_off.request_for_subject(visit.visit_id, visit.school_id, ref, body, actor, guard, now)


def _finding_ticket(visit: InspectionVisitModel, item: InspectionItemModel) -> TicketIn:
    where = f"灯具 lamp {item.lamp_id}" if item.lamp_id else f"教室 room {item.room_id}"
    problems = ", ".join((item.verdict or {}).get("problems") or [])
    return TicketIn(
        source=Source.INSPECTION,
        school_id=visit.school_id,
        room_id=item.room_id or None,
        lamp_ids=[item.lamp_id] if item.lamp_id else [],
        category=Category(item.category or Category.OTHER.value),
        description=f"巡检发现 Found on inspection {visit.visit_id} ({visit.style} {visit.period}): "
        f"{where}: {problems}. {item.note}".strip(),
    )


def _open_findings(
    visit: InspectionVisitModel, findings: Iterable[InspectionItemModel], actor: Principal, now: dt.datetime
) -> list[FindingOut]:
    """One ticket per finding, each with the id its (visit, item) gives; those a first attempt opened are
    found (one consistent BatchGet), not opened again."""
    findings = list(findings)
    wanted = {item.item_key: checks.finding_ticket_id(visit.visit_id, item.item_key) for item in findings}
    existing = store.existing_ticket_ids(list(wanted.values()))
    opened: dict[str, str] = {}
    for item in findings:
        ticket_id = wanted[item.item_key]
        if ticket_id not in existing:
            ticket = tickets.create_ticket(_finding_ticket(visit, item), actor, now, ticket_id=ticket_id)
            opened[ticket_id] = ticket.ref
    refs = {**{t.ticket_id: t.ref for t in store.batch_get_tickets(list(existing)).values()}, **opened}
    return [
        FindingOut(
            item_key=item.item_key,
            kind=ItemKind(item.kind),
            lamp_id=item.lamp_id or None,
            room_id=item.room_id or None,
            category=item.category or Category.OTHER.value,
            ticket_id=wanted[item.item_key],
            ticket_ref=refs.get(wanted[item.item_key], ""),
        )
        for item in findings
    ]


def sign_off_view(record: Mapping[str, Any]) -> InspectionSignOffOut:
    return InspectionSignOffOut(
        method=str(record["method"]),
        signer_name=str(record["signer_name"]),
        signer_role=str(record.get("signer_role") or ""),
        at=dt.datetime.fromisoformat(str(record["at"])),
        sent_to=record.get("sent_to") or None,
        lat=record.get("lat"),
        lon=record.get("lon"),
        satisfaction=record.get("satisfaction"),
        comment=str(record.get("comment") or ""),
    )


def complete_visit(
    visit_id: str,
    body: CompleteInspectionVisitIn,
    actor: Principal,
    guard: WriteGuard | None,
    now: dt.datetime | None = None,
) -> InspectionCompletionOut:
    now = now or utcnow()
    visit = readable_visit(visit_id, actor)
    checks.check_recording(visit.status, visit.assignee_id, actor.sub, completing=True)
    items = store.visit_items(visit_id)
    if not items:
        raise InvalidInput(
            "record the visit's checklists and readings before completing it",
            details=[FieldProblem("(visit)", "no lamp or room recorded (recordInspectionItem)")],
        )
    # The school's sign-off first: no sign-off, no completion (and no tickets opened for a refused one).
    signed = sign_off.check_subject_sign_off(visit.visit_id, body.sign_off, guard, now)
    findings = _open_findings(visit, (i for i in items if i.finding), actor, now)
    record = sign_off_record(
        method=body.sign_off.method,
        signer_name=body.sign_off.signer_name,
        signer_role=body.sign_off.signer_role,
        recorded_by=actor.sub,
        now=now,
        device_at=body.sign_off.device_at,
        lat=body.sign_off.lat,
        lon=body.sign_off.lon,
        satisfaction=body.sign_off.satisfaction,
        comment=body.sign_off.comment,
        sent_to=signed.sent_to,
        signature_key=signed.signature_key,
    )
    visit.status = VisitStatus.COMPLETED.value
    visit.completed_at = now
    visit.completed_by = actor.sub
    visit.updated_at = now
    visit.sign_off = record
    visit.report = {
        "findings": {f.item_key: {"ticket_id": f.ticket_id, "ref": f.ticket_ref} for f in findings},
        "evaluation": body.evaluation,
        "device_at": body.device_at.isoformat() if body.device_at else None,
    }
    answer = InspectionCompletionOut(
        visit_id=visit.visit_id,
        status="completed",
        completed_at=now,
        findings=findings,
        sign_off=sign_off_view(record),
    )
    inspections.apply_visit_change(
        visit,
        extra=lambda tx: sign_off_store.mark_used(tx, visit.visit_id, signed.request_id, now),
        guard=guard.seal(answer) if guard else None,
    )
    return answer


# ---- light trends -------------------------------------------------------------------------------------


def room_light_trend(
    school_id: str, room_id: str, actor: Principal, now: dt.datetime | None = None
) -> RoomLightTrendOut:
    now = now or utcnow()
    require_school(actor, school_id, what="school", key=school_id)
    school = access.get_school(school_id)
    try:
        room = access.get_room(school_id, room_id)
    except NotFound as exc:
        raise NotFound(f"room '{room_id}' does not exist in school '{school_id}'") from exc
    targets = targets_for(school.contract_id)
    lines = store.room_readings(school_id, room_id)
    today = now.astimezone(CHINA).date()
    trends = []
    for measure in Measure:
        points = [
            (r.measured_at, float(r.values[measure.value])) for r in lines if r.values.get(measure.value) is not None
        ]
        trends.append(checks.fit_trend(points, targets.minimums[measure], measure, today))
    return RoomLightTrendOut(
        school_id=school_id,
        room_id=room_id,
        room_name=room.name or room_id,
        targets_source=targets.source,
        flag=checks.room_flag(trends),
        readings=[
            ReadingOut(
                visit_id=r.visit_id,
                measured_at=r.measured_at,
                values=dict(r.values),
                flicker_visible=bool(r.flicker_visible),
                compliant=bool(r.compliant),
            )
            for r in lines
        ],
        trends=[
            MeasureTrendOut(
                measure=t.measure,
                minimum=t.minimum,
                unit=UNITS[t.measure],
                readings=t.readings,
                slope_per_day=t.slope_per_day,
                slope_per_30_days=t.slope_per_30_days,
                latest=t.latest,
                projected_crossing_on=t.crossing_on,
                flag=t.flag,
            )
            for t in trends
        ],
    )
