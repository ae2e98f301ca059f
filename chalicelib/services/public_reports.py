"""The school's side (D-S6, D-A3): a teacher scans a lamp, reports in under a minute without an
account, and follows the case by its public reference.

A report on a lamp that has an open case joins it (report count +1, photos, contact); a report on
another lamp of a room with a case reported in the last 30 minutes joins that case, adding the
lamp: one case with several lamps, so the dispatcher triages and sends one engineer once. Twenty
students scanning one dark lamp make one case: the lamp's `open_case_id` is checked in the same
transaction that opens a case, and a report that loses the race joins the winner's case.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import secrets
import time
from collections.abc import Callable

from chalicelib.auth import Principal
from chalicelib.domain import public_reports as rules
from chalicelib.domain.lifecycle import FINAL_STATES, Status
from chalicelib.domain.public_reports import Fault, Stage
from chalicelib.domain.tickets import Source, new_public_ref, ticket_ref
from chalicelib.errors import FieldProblem, InvalidInput, NotFound, StaleVersion, Throttled
from chalicelib.models import access, rate_limits
from chalicelib.models.access import CaseMoved, LampModel, TicketEventModel, TicketModel
from chalicelib.schemas import (
    PhotoUploadIn,
    PhotoUploadOut,
    PresignedPostOut,
    PublicReportIn,
    PublicReportOut,
    PublicStatusOut,
    PublicStatusStepOut,
)
from chalicelib.services import sla_policies, sla_timers
from chalicelib.services.ids import new_id, utcnow
from chalicelib.settings import get_settings
from chalicelib.storage import photos

PUBLIC = Principal(sub="school-report", roles=frozenset())  # the audit trail's actor for a scan
# Abuse limits per label and per client address, fixed windows (issue 9): generous for a class of
# students, small against a script. Photo uploads count separately.
LIMITS = {
    "report-token": (10, dt.timedelta(minutes=10)),
    "report-client": (30, dt.timedelta(minutes=10)),
    "photo-token": (12, dt.timedelta(minutes=10)),
    "photo-client": (36, dt.timedelta(minutes=10)),
}
# A report that loses a race re-reads and joins; a burst of reports on one case retries with growing,
# jittered pauses (the label's limit bounds a burst to ten reports per window).
ATTEMPTS = 12


@dataclasses.dataclass(frozen=True)
class Via:
    """Who filed a report: a scan of the label (no account) or a partner platform over Open311. The same
    rules either way (join the lamp's or the room's open case); the ticket's source stays `school_report`
    and the audit trail, the lamp's history and the ticket's owner name the partner."""

    actor: str
    reporter_role: str
    partner_id: str | None = None
    reporter_name: str = ""

    def audit(self) -> dict[str, object]:
        return {"partner": self.partner_id} if self.partner_id else {}


SCAN = Via(actor=PUBLIC.sub, reporter_role="school")


def _limit(kind: str, who: str, now: dt.datetime) -> None:
    limit, window = LIMITS[kind]
    retry_after = rate_limits.hit(f"{kind}#{who}", limit, window, now)
    if retry_after is not None:
        raise Throttled("too many reports from here; try again in a few minutes", retry_after)


def status_url(public_ref: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/s/{public_ref}"


def _expected_by(ticket: TicketModel) -> dt.datetime | None:
    status = Status(ticket.status)
    if status in FINAL_STATES or status in (Status.RESOLVED, Status.SIGNED_OFF):
        return None
    if status == Status.EN_ROUTE and ticket.eta is not None:
        return ticket.eta
    return ticket.onsite_due


def _report_view(ticket: TicketModel, joined: bool) -> PublicReportOut:
    return PublicReportOut(
        reference=ticket.ref,
        public_ref=ticket.public_ref,
        status_url=status_url(ticket.public_ref),
        joined=joined,
        report_count=int(ticket.report_count),
        stage=rules.STAGE_OF[Status(ticket.status)],
        reported_at=ticket.reported_at,
        expected_by=_expected_by(ticket),
    )


def create_photo_upload(token: str, body: PhotoUploadIn, client: str, now: dt.datetime | None = None) -> PhotoUploadOut:
    """A presigned POST straight to the private bucket: the photo never passes through the API."""
    now = now or utcnow()
    _limit("photo-client", client, now)
    lamp = access.find_lamp_by_qr_token(token)
    _limit("photo-token", token, now)
    photo_id = secrets.token_urlsafe(12)
    post = photos.presigned_upload(photos.upload_key(lamp.lamp_id, photo_id), body.content_type, now)
    return PhotoUploadOut(
        photo_id=photo_id, upload=PresignedPostOut(url=post.url, fields=post.fields, expires_at=post.expires_at)
    )


def _checked_photos(lamp_id: str, photo_ids: list[str]) -> list[str]:
    """Each photo exists, is at most 10 MB and is an image by its first bytes (not its name)."""
    keys, problems = [], []
    for index, photo_id in enumerate(dict.fromkeys(photo_ids)):
        stored = photos.inspect(photos.upload_key(lamp_id, photo_id))
        field = f"photo_ids.{index}"
        if stored is None:
            problems.append(FieldProblem(field, "no photo was uploaded with this id"))
        elif stored.size > photos.MAX_BYTES:
            problems.append(FieldProblem(field, "larger than 10 MB"))
        elif stored.content_type is None:
            problems.append(FieldProblem(field, "not a JPEG, PNG, HEIC or WebP image"))
        else:
            keys.append(stored.key)
    if problems:
        raise InvalidInput("a photo cannot be attached", details=problems)
    return keys


def _event(
    ticket: TicketModel, now: dt.datetime, action: str, after: dict[str, object], via: Via = SCAN
) -> TicketEventModel:
    seq = int(ticket.event_count) + 1
    ticket.event_count = seq
    return TicketEventModel(
        ticket.ticket_id,
        seq,
        at=now,
        actor=via.actor,
        actor_role="",
        action=action,
        from_status=ticket.status,
        to_status=ticket.status,
        before={},
        after={**after, **via.audit()},
        note="",
    )


def _contact(body: PublicReportIn, now: dt.datetime) -> list[dict[str, str]]:
    return [{"phone": body.contact_phone, "at": now.isoformat()}] if body.contact_phone else []


def _open_case(lamp: LampModel) -> TicketModel | None:
    if not lamp.open_case_id:
        return None
    try:
        ticket = access.get_ticket(lamp.open_case_id)
    except NotFound:
        return None
    if Status(ticket.status) == Status.MERGED and ticket.merged_into:
        ticket = access.get_ticket(ticket.merged_into)
    return ticket if Status(ticket.status) in rules.JOINABLE else None


def submit_report(token: str, body: PublicReportIn, client: str, now: dt.datetime | None = None) -> PublicReportOut:
    now = now or utcnow()
    _limit("report-client", client, now)
    lamp = access.find_lamp_by_qr_token(token)  # an unknown or rotated label is a 404 that reveals nothing
    _limit("report-token", token, now)
    if body.website:  # the honeypot: answer as if accepted, store nothing
        fake = new_public_ref()
        return PublicReportOut(
            reference="T-0000-000000",
            public_ref=fake,
            status_url=status_url(fake),
            joined=False,
            report_count=1,
            stage=Stage.RECEIVED,
            reported_at=now,
            expected_by=None,
        )
    photo_keys = _checked_photos(lamp.lamp_id, body.photo_ids)
    return _file_with_retries(lamp, lambda: access.find_lamp_by_qr_token(token), body, photo_keys, now, SCAN)


def submit_partner_report(
    lamp: LampModel, body: PublicReportIn, via: Via, now: dt.datetime | None = None
) -> PublicReportOut:
    """A report a partner platform filed (Open311) on a lamp it named by asset number: the rules of a scan
    (joins the lamp's open case, or the room's within 30 minutes; D-S3's suggested level). `lamp` needs its
    id, school, room and open case; the partner's own limits and key are checked before this."""
    now = now or utcnow()
    lamp_id = lamp.lamp_id
    return _file_with_retries(lamp, lambda: access.get_lamp(lamp_id), body, [], now, via)


def _file_with_retries(
    lamp: LampModel,
    reread: Callable[[], LampModel],
    body: PublicReportIn,
    photo_keys: list[str],
    now: dt.datetime,
    via: Via,
) -> PublicReportOut:
    """Someone else's report may land first (a new case, or a change to the case): re-read the lamp and
    join, after a growing, jittered pause, so a burst on one case settles instead of colliding again."""
    for attempt in range(ATTEMPTS):
        try:
            return _file(lamp, body, photo_keys, now, via)
        except (CaseMoved, StaleVersion):
            time.sleep(random.uniform(0, 0.02 * (attempt + 1)))
            lamp = reread()
    raise StaleVersion("the case is being updated by many reports at once; send the report again")


def _file(
    lamp: LampModel, body: PublicReportIn, photo_keys: list[str], now: dt.datetime, via: Via = SCAN
) -> PublicReportOut:
    case = _open_case(lamp)
    if case is not None:
        return _join(case, body, photo_keys, now, added_lamp=None, expected=lamp.open_case_id, via=via)
    room_case_id = access.find_open_room_case(lamp.school_id, lamp.room_id, now - rules.ROOM_WINDOW)
    if room_case_id is not None:
        room_case = access.get_ticket(room_case_id)
        if Status(room_case.status) in rules.JOINABLE and len(room_case.lamp_ids) < 20:
            return _join(room_case, body, photo_keys, now, added_lamp=lamp, expected=lamp.open_case_id, via=via)
    return _new_case(lamp, body, photo_keys, now, via)


def _join(
    case: TicketModel,
    body: PublicReportIn,
    photo_keys: list[str],
    now: dt.datetime,
    *,
    added_lamp: LampModel | None,
    expected: str | None,
    via: Via = SCAN,
) -> PublicReportOut:
    case.report_count = int(case.report_count) + 1
    case.open311_service = case.open311_service or body.fault.value  # a case a school reported is a request
    case.photos = [*case.photos, *photo_keys][: 3 * rules.MAX_PHOTOS]
    case.contacts = [*case.contacts, *_contact(body, now)][:20]
    history = None
    after: dict[str, object] = {"report_count": case.report_count, "fault": body.fault.value, "photos": len(photo_keys)}
    if added_lamp is not None:
        case.lamp_ids = [*case.lamp_ids, added_lamp.lamp_id]
        lamps_out = len(case.lamp_ids)
        suggested = rules.suggest_level(body.fault, lamps_out_in_room=lamps_out, at=now).level
        case.suggested_level = max(int(case.suggested_level or 0), suggested)
        after.update({"lamp_added": added_lamp.lamp_id, "suggested_level": case.suggested_level})
        history = access.history_entry(
            added_lamp.lamp_id,
            now,
            "ticket_opened",
            ref=case.ref,
            actor=via.actor,
            summary=f"{body.fault.value}: joined the room's case",
            data={"ticket_id": case.ticket_id},
        )
    case.updated_at = now
    event = _event(case, now, "report_joined", after, via)
    access.join_case(case, event, history, expected if added_lamp is not None else False)
    return _report_view(case, joined=True)


def _new_case(
    lamp: LampModel, body: PublicReportIn, photo_keys: list[str], now: dt.datetime, via: Via = SCAN
) -> PublicReportOut:
    school = access.get_school(lamp.school_id)
    contract = access.get_contract(school.contract_id)
    suggestion = rules.suggest_level(body.fault, lamps_out_in_room=1, at=now)
    category = rules.CATEGORY_OF[body.fault].value
    # provisional until triage confirms a level (D-S3); the contract's current SLA revision (D-S5)
    sla = sla_policies.at_report(contract, school, suggestion.level, category, now)
    ticket_id = new_id("t")
    description = body.description or body.fault.value.replace("_", " ")
    ticket = TicketModel(
        ticket_id,
        ref=ticket_ref(now.year, access.reserve_numbers(f"ticket#{now.year}")),
        public_ref=new_public_ref(),
        contract_id=school.contract_id,
        school_id=school.school_id,
        room_id=lamp.room_id,
        lamp_ids=[lamp.lamp_id],
        source=Source.SCHOOL_REPORT.value,
        category=category,
        open311_service=body.fault.value,  # what was reported, as Open311 lists it (room_dark included)
        level=suggestion.level,
        level_confirmed="no",
        suggested_level=suggestion.level,
        description=description,
        photos=photo_keys,
        reporter={"name": via.reporter_name, "phone": body.contact_phone, "role": via.reporter_role},
        contacts=_contact(body, now),
        report_count=1,
        status=Status.REPORTED.value,
        owner_id=via.actor,
        reported_at=now,
        **sla.ticket_fields(),
        milestones={},
        event_count=1,
        updated_at=now,
    )
    event = TicketEventModel(
        ticket_id,
        1,
        at=now,
        actor=via.actor,
        actor_role="",
        action="create",
        from_status=None,
        to_status=ticket.status,
        before={},
        after={
            "status": ticket.status,
            "fault": body.fault.value,
            "suggested_level": suggestion.level,
            "reason": suggestion.reason,
            **via.audit(),
        },
        note="",
    )
    history = access.history_entry(
        lamp.lamp_id,
        now,
        "ticket_opened",
        ref=ticket.ref,
        actor=via.actor,
        summary=f"{body.fault.value}: reported " + ("through Open311" if via.partner_id else "by the school"),
        data={"ticket_id": ticket_id, "level": suggestion.level},
    )
    sla_timers.arm(ticket, sla_policies.current_policy(contract), now)  # the SLA timer's plan (issue 10)
    access.open_ticket(ticket, event, [history], expected_case=lamp.open_case_id)
    sla_timers.started(ticket)
    return _report_view(ticket, joined=False)


def public_status(public_ref: str) -> PublicStatusOut:
    """The reporter's page: the state in plain words, the expected time, a plain history. No names, phone
    numbers or notes of anyone."""
    ticket = access.find_ticket_by_public_ref(public_ref)
    if Status(ticket.status) == Status.MERGED and ticket.merged_into:
        ticket = access.get_ticket(ticket.merged_into)
    school = access.get_school(ticket.school_id)
    events = access.query_ticket_events(ticket.ticket_id, 100, None).items
    history: list[PublicStatusStepOut] = []
    for event in events:
        stage = rules.PUBLIC_EVENTS.get(event.action)
        if stage is not None and (not history or history[-1].stage != stage):
            history.append(PublicStatusStepOut(at=event.at, stage=stage))
    lamp = access.batch_get_lamps(ticket.lamp_ids[:1]).get(ticket.lamp_ids[0]) if ticket.lamp_ids else None
    return PublicStatusOut(
        reference=ticket.ref,
        stage=rules.STAGE_OF[Status(ticket.status)],
        school=school.name,
        room_id=ticket.room_id or None,
        asset_no=lamp.asset_no if lamp else None,
        reported_at=ticket.reported_at,
        expected_by=_expected_by(ticket),
        report_count=int(ticket.report_count),
        history=history,
    )


__all__ = ["Fault", "create_photo_upload", "public_status", "submit_report"]
