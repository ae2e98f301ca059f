"""Open311 GeoReport v2 use cases (domain.open311): what partner platforms file and follow.

A request filed here is a school report under the same rules as a scan of the lamp's label (it joins
the lamp's open case, or the room's within 30 minutes; D-S3 suggests its level), through
`public_reports.submit_partner_report`. Refusals are domain errors; the handler words them as the
spec's errors: Forbidden is 403 (api_key), NotFound 404, anything else 400.

Lists are Queries on the Open311 indexes of the tickets table (models.open311.query_requests): one per
UTC month of the window, open/closed state and service asked for, each returning exactly its part.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from functools import cache

from pydantic import TypeAdapter, ValidationError

from chalicelib.domain import open311 as rules
from chalicelib.domain.lifecycle import Status
from chalicelib.domain.open311 import RequestStatus
from chalicelib.domain.public_reports import Fault
from chalicelib.errors import FieldProblem, Forbidden, InvalidInput, NotFound
from chalicelib.models import access
from chalicelib.models import open311 as store
from chalicelib.models.open311 import Open311PartnerModel
from chalicelib.models.registry import LampModel, SchoolModel
from chalicelib.models.tickets import TicketModel
from chalicelib.schemas import Phone, PublicReportIn
from chalicelib.schemas_open311 import (
    Open311CreatedListOut,
    Open311CreatedOut,
    Open311DiscoveryOut,
    Open311EndpointOut,
    Open311RequestIn,
    Open311RequestOut,
    Open311RequestsOut,
    Open311RequestsQuery,
    Open311ServiceOut,
    Open311ServicesOut,
)
from chalicelib.services import public_reports
from chalicelib.services.ids import new_id, utcnow
from chalicelib.settings import get_settings

PATH = "/open311/v2"
MAX_NAME = 100
MAX_SUCCESSORS = 5  # a replaced unit's number files on the unit in its place; chains are short


# ---- discovery and services -------------------------------------------------------------------------


def endpoint_url() -> str:
    return f"{get_settings().public_base_url.rstrip('/')}{PATH}"


def discovery() -> Open311DiscoveryOut:
    settings = get_settings()
    return Open311DiscoveryOut(
        changeset=rules.CHANGESET,
        contact=f"{rules.AGENCY}: ask your LampCare project lead, or see {endpoint_url()}/discovery.xml.",
        key_service="An api_key is issued to each partner platform by the LampCare administrator; "
        "ask your LampCare project lead. Only POST requests needs it.",
        endpoints=[
            Open311EndpointOut(
                specification=rules.SPECIFICATION,
                url=endpoint_url(),
                changeset=rules.CHANGESET,
                type="production" if settings.stage == "prod" else "test",
                formats=[rules.XML, rules.JSON],
            )
        ],
    )


def services() -> Open311ServicesOut:
    return Open311ServicesOut(
        [
            Open311ServiceOut(
                service_code=s.code,
                service_name=s.name,
                description=s.description,
                metadata=False,
                type="realtime",
                keywords=", ".join(s.keywords),
                group=s.group,
            )
            for s in rules.SERVICES
        ]
    )


# ---- partners -----------------------------------------------------------------------------------------


def issue_partner_key(name: str, now: dt.datetime | None = None) -> tuple[str, str]:
    """A new partner platform: (partner_id, api_key). The key is shown once; only its hash is kept."""
    api_key = secrets.token_urlsafe(32)
    partner_id = new_id("p")
    store.add_partner(_partner(partner_id, name, api_key, now or utcnow()))
    return partner_id, api_key


def register_partner_key(partner_id: str, name: str, api_key: str, now: dt.datetime | None = None) -> None:
    """A partner with a key chosen by the caller (demo data: the same key on every start)."""
    store.put_partner(_partner(partner_id, name, api_key, now or utcnow()))


def _partner(partner_id: str, name: str, api_key: str, now: dt.datetime) -> Open311PartnerModel:
    return Open311PartnerModel(store.key_hash(api_key), partner_id=partner_id, name=name, active=True, created_at=now)


def _partner_for(api_key: str) -> Open311PartnerModel:
    if not api_key:
        raise Forbidden("api_key was not provided: POST requests needs the key issued to your platform")
    partner = store.find_partner(api_key)
    if partner is None:
        raise Forbidden("invalid api_key: it was not issued, or it was revoked")
    return partner


# ---- POST requests ------------------------------------------------------------------------------------------


def create_request(fields: Mapping[str, str], now: dt.datetime | None = None) -> Open311CreatedListOut:
    """Files a request as a school report on the lamp named by `address_id`; a lamp with an open case joins
    it, and the answer is that case's service_request_id."""
    now = now or utcnow()
    form = Open311RequestIn.model_validate(dict(fields))
    partner = _partner_for(form.api_key.strip())  # the key before anything about the input is disclosed
    service_code, asset_no = form.service_code.strip(), form.address_id.strip()
    problems = _form_problems(form, service_code, asset_no)
    if problems:
        raise InvalidInput("the request cannot be filed", details=problems)
    if service_code not in rules.SERVICE_OF:
        raise NotFound(f"service_code '{service_code}' was not found: see GET services")
    lamp = _lamp(asset_no)
    body = PublicReportIn.model_construct(  # checked above: Open311 allows longer descriptions than the QR page
        fault=Fault(service_code), description=form.description.strip(), photo_ids=[], contact_phone=_phone(form)
    )
    via = public_reports.Via(
        actor=f"partner:{partner.partner_id}",
        reporter_role=f"Open311 partner: {partner.name}",
        partner_id=partner.partner_id,
        reporter_name=" ".join(n for n in (form.first_name.strip(), form.last_name.strip()) if n),
    )
    report = public_reports.submit_partner_report(lamp, body, via, now)
    notice = f"Logged as {report.reference}"
    if report.joined:
        notice += f", which was already open on this lamp or room ({report.report_count} reports)"
    if report.expected_by is not None:
        notice += f"; an engineer is expected on site by {report.expected_by.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"
    return Open311CreatedListOut(
        [Open311CreatedOut(service_request_id=report.reference, service_notice=notice + ".", account_id=None)]
    )


def _form_problems(form: Open311RequestIn, service_code: str, asset_no: str) -> list[FieldProblem]:
    problems = []
    if not service_code:
        problems.append(FieldProblem("service_code", "was not provided: use a service_code from GET services"))
    if not asset_no:
        located = "lat/long" if form.lat or form.long else "address_string" if form.address_string else ""
        problems.append(
            FieldProblem(
                "address_id",
                "was not provided: give the lamp's asset number, printed on its label (e.g. SH01-00007)"
                + (f"; {located} cannot tell which lamp" if located else ""),
            )
        )
    if len(form.description) > rules.MAX_DESCRIPTION:
        problems.append(FieldProblem("description", f"longer than {rules.MAX_DESCRIPTION} characters"))
    for name in ("first_name", "last_name"):
        if len(getattr(form, name)) > MAX_NAME:
            problems.append(FieldProblem(name, f"longer than {MAX_NAME} characters"))
    try:
        _phone(form)
    except ValueError:
        problems.append(FieldProblem("phone", "not a phone number (digits, spaces, +, -, parentheses)"))
    return problems


@cache
def _phone_adapter() -> TypeAdapter[str]:
    return TypeAdapter(Phone)  # the QR page's rule for a contact phone


def _phone(form: Open311RequestIn) -> str:
    try:
        return _phone_adapter().validate_python(form.phone)
    except ValidationError as exc:
        raise ValueError(form.phone) from exc


def _lamp(asset_no: str) -> LampModel:
    """The lamp with this asset number; a replaced unit's number files on the unit now in its place."""
    lamp = store.find_lamp_by_asset_no(asset_no)
    hops = 0
    while lamp.successor_id and hops < MAX_SUCCESSORS:
        lamp = access.get_lamp(lamp.successor_id)
        hops += 1
    return lamp


# ---- GET requests ---------------------------------------------------------------------------------------------


def list_requests(query: Open311RequestsQuery, now: dt.datetime | None = None) -> Open311RequestsOut:
    """The spec's filters; newest first; at most 1000 requests of at most 90 days (the last 90 by default)."""
    now = now or utcnow()
    ids = _split(query.service_request_id)
    if ids:  # "This overrides all other arguments."
        if len(ids) > rules.MAX_IDS:
            raise InvalidInput(
                f"at most {rules.MAX_IDS} service_request_id values in one call",
                details=[FieldProblem("service_request_id", f"{len(ids)} values: at most {rules.MAX_IDS} in one call")],
            )
        found = _requests_by_refs(ids)
        return _views([found[ref] for ref in dict.fromkeys(ids) if ref in found])
    codes = _split(query.service_code)
    states = _split(query.status)
    start, end = _window(query.start_date, query.end_date, now)
    problems = [
        FieldProblem("service_code", f"'{c}' is not a service_code") for c in codes if c not in rules.SERVICE_OF
    ]
    problems += [
        FieldProblem("status", f"'{s}' is neither open nor closed") for s in states if s not in {"open", "closed"}
    ]
    if problems:
        raise InvalidInput("the filters cannot be used", details=problems)
    wanted_states = [RequestStatus(s) for s in dict.fromkeys(states)] or list(RequestStatus)
    wanted_codes: list[str | None] = list(dict.fromkeys(codes)) or [None]
    tickets: list[TicketModel] = []
    for month in rules.months_between(start, end):
        room = rules.MAX_REQUESTS - len(tickets)
        if room <= 0:
            break
        # Each part is exactly its (month, service, state) within the window, newest first; every request of
        # this month is newer than any of an older month, so the newest `room` of their union are final.
        parts = [
            ticket
            for code in wanted_codes
            for state in wanted_states
            for ticket in store.query_requests(month, code, state, start, end, room)
        ]
        parts.sort(key=lambda t: (t.reported_at, t.ref), reverse=True)
        tickets += parts[:room]
    return _views(tickets)


def get_request(service_request_id: str) -> Open311RequestsOut:
    found = _requests_by_refs([service_request_id])
    if service_request_id not in found:
        raise NotFound(f"service_request_id '{service_request_id}' was not found")
    return _views([found[service_request_id]])


def _requests_by_refs(refs: list[str]) -> dict[str, TicketModel]:
    """The tickets with these references that are requests: a fault found on an inspection or raised by the
    service centre is internal work, as absent here as from the lists."""
    return {
        ref: t for ref, t in store.tickets_by_refs(refs).items() if rules.is_request(t.source, int(t.report_count or 1))
    }


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _window(start_text: str | None, end_text: str | None, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """[start, end] of requested_datetime: both given (at most 90 days apart), one (90 days from it), or
    neither (the last 90 days)."""
    problems: list[FieldProblem] = []
    start = _w3(start_text, "start_date", problems, end_of_day=False)
    end = _w3(end_text, "end_date", problems, end_of_day=True)
    if problems:
        raise InvalidInput("the dates cannot be read", details=problems)
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - rules.WINDOW
    if end is None:
        end = min(start + rules.WINDOW, max(now, start))
    if start > end:
        raise InvalidInput("start_date is after end_date", details=[FieldProblem("start_date", "after end_date")])
    if end - start > rules.WINDOW:
        raise InvalidInput(
            "start_date and end_date may not span more than 90 days",
            details=[FieldProblem("end_date", f"{(end - start).days} days after start_date: at most 90 days")],
        )
    return start, end


def _w3(text: str | None, field: str, problems: list[FieldProblem], *, end_of_day: bool) -> dt.datetime | None:
    """A W3C date-time with its time zone (2026-11-01T08:00:00+08:00, ...Z), or a date (a whole UTC day).
    A `+` left unencoded in a query string arrives as a space: read it as the `+` it was."""
    if not text or not text.strip():
        return None
    value = text.strip().replace(" ", "+")
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            at = dt.datetime.combine(day, dt.time.max if end_of_day else dt.time.min, dt.UTC)
        else:
            at = dt.datetime.fromisoformat(value)
    except ValueError:
        problems.append(FieldProblem(field, "not a W3C date-time, e.g. 2026-11-01T00:00:00Z"))
        return None
    if at.tzinfo is None:
        problems.append(FieldProblem(field, "needs a time zone, e.g. 2026-11-01T00:00:00Z or +08:00"))
        return None
    if not rules.EARLIEST <= at < rules.LATEST:  # aware datetimes compare without overflowing
        problems.append(
            FieldProblem(field, f"out of range: from {rules.EARLIEST:%Y-%m-%d} to before {rules.LATEST:%Y-%m-%d}")
        )
        return None
    return at


# ---- a request in Open311 terms ------------------------------------------------------------------------------


def _views(tickets: list[TicketModel]) -> Open311RequestsOut:
    """Tickets as Open311 requests: a merged duplicate shows the state of the case it was merged into. Schools
    and asset numbers are read once for all (BatchGets), not per request."""
    targets = _merge_targets(tickets)
    schools = store.schools_by_ids(t.school_id for t in tickets)
    assets = store.asset_numbers(t.lamp_ids[0] for t in tickets if t.lamp_ids)
    return Open311RequestsOut([_view(t, targets.get(t.ticket_id), schools.get(t.school_id), assets) for t in tickets])


def _merge_targets(tickets: list[TicketModel]) -> dict[str, TicketModel]:
    """merged ticket id -> the case it ends up in (following a few hops)."""
    targets: dict[str, TicketModel] = {}
    pending = {t.ticket_id: t for t in tickets if Status(t.status) == Status.MERGED and t.merged_into}
    for _ in range(rules.MAX_MERGE_HOPS):
        if not pending:
            break
        found = store.tickets_by_ids(t.merged_into for t in pending.values() if t.merged_into)
        following = {}
        for origin, current in pending.items():
            target = found.get(current.merged_into or "")
            if target is None:
                continue
            targets[origin] = target
            if Status(target.status) == Status.MERGED and target.merged_into:
                following[origin] = target
        pending = following
    return targets


def _view(
    ticket: TicketModel, target: TicketModel | None, school: SchoolModel | None, assets: Mapping[str, str]
) -> Open311RequestOut:
    case = target if target is not None else ticket
    status = Status(case.status)
    state = rules.request_status(status) or RequestStatus.OPEN  # a merge chain longer than we follow: still open
    notes = rules.STATUS_NOTES[status]
    if target is not None:
        notes = f"Merged into {target.ref}. {notes}"
    code = ticket.open311_service or rules.service_code_for(ticket.category)
    service = rules.SERVICE_OF.get(code)
    place = [ticket.room_id, school.name if school else "", school.address if school else ""]
    return Open311RequestOut(
        service_request_id=ticket.ref,
        status=state.value,
        status_notes=notes,
        service_name=service.name if service else None,
        service_code=code,
        description=ticket.description or None,
        agency_responsible=rules.AGENCY,
        service_notice=rules.SERVICE_NOTICE,
        requested_datetime=ticket.reported_at,
        updated_datetime=max(ticket.updated_at, case.updated_at),
        expected_datetime=case.onsite_due,
        address=", ".join(p for p in place if p) or None,
        address_id=assets.get(ticket.lamp_ids[0]) if ticket.lamp_ids else None,
        zipcode=None,
        lat=float(school.latitude) if school else None,
        long=float(school.longitude) if school else None,
        media_url=None,
    )
