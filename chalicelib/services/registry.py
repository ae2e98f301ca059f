"""Contracts, schools, rooms and lamps: registration, QR tokens, history, replacement (D-A1..D-A4).

Use cases only: the reads and writes are named functions of `chalicelib.models.access`,
which assembles the transactions; the rules come from `chalicelib.domain`. Each function
returns the response model (`*Out`) that the OpenAPI document is generated from.
"""

from __future__ import annotations

import datetime as dt

from chalicelib.auth import Principal
from chalicelib.domain import assets
from chalicelib.domain.policy import ServicePolicy, WarrantyTerms, in_warranty, warranty_end
from chalicelib.errors import Conflict
from chalicelib.models import access
from chalicelib.models.access import ContractModel, LampHistoryModel, LampModel, RoomModel, SchoolModel
from chalicelib.models.registry import contact_fields, new_contact
from chalicelib.schemas import (
    ContactOut,
    ContractIn,
    ContractOut,
    LampHistoryEntryOut,
    LampHistoryLampOut,
    LampHistoryPageOut,
    LampIn,
    LampOut,
    LampPageOut,
    LampReplacementIn,
    LampReplacementOut,
    LampWarrantyOut,
    PageQuery,
    QrLampOut,
    QrResolutionOut,
    QrSchoolOut,
    RoomOut,
    SchoolIn,
    SchoolListQuery,
    SchoolOut,
    SchoolPageOut,
    SchoolWithRoomsOut,
)
from chalicelib.services.ids import new_id, utcnow
from chalicelib.services.paging import decode_cursor, encode_cursor
from chalicelib.services.scope import require_school
from chalicelib.settings import get_settings

# ---- views ----------------------------------------------------------------------------


def contract_view(c: ContractModel) -> ContractOut:
    return ContractOut(
        contract_id=c.contract_id,
        code=c.code,
        name=c.name,
        customer=c.customer,
        policy=contract_policy(c),
        warranty=contract_warranty(c),
        created_at=c.created_at,
    )


def school_view(s: SchoolModel) -> SchoolOut:
    return SchoolOut(
        school_id=s.school_id,
        contract_id=s.contract_id,
        code=s.code,
        name=s.name,
        address=s.address,
        latitude=s.latitude,
        longitude=s.longitude,
        province=s.province,
        contacts=[ContactOut.model_validate(contact_fields(c)) for c in s.contacts],
        hazards=list(s.hazards),
        created_at=s.created_at,
    )


def report_url(token: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/r/{token}"


def lamp_view(lamp: LampModel, today: dt.date | None = None) -> LampOut:
    today = today or utcnow().date()
    accepted = dt.date.fromisoformat(lamp.accepted_on)
    extension = int(lamp.warranty_extension_days)
    return LampOut(
        lamp_id=lamp.lamp_id,
        asset_no=lamp.asset_no,
        school_id=lamp.school_id,
        room_id=lamp.room_id,
        position=lamp.position,
        model=lamp.model,
        serial=lamp.serial,
        batch=lamp.batch,
        configuration=lamp.configuration,
        installed_on=dt.date.fromisoformat(lamp.installed_on),
        accepted_on=accepted,
        warranty=LampWarrantyOut(
            years=lamp.warranty_years,
            extension_days=extension,
            ends_on=dt.date.fromisoformat(lamp.warranty_end),
            in_warranty=in_warranty(accepted, lamp.warranty_years, extension, today),
        ),
        status=assets.LampStatus(lamp.status),
        has_open_fault=lamp.open_tickets > 0,
        open_tickets=int(lamp.open_tickets),
        qr_token=lamp.qr_token,
        report_url=report_url(lamp.qr_token),
        predecessor_id=lamp.predecessor_id,
        successor_id=lamp.successor_id,
        created_at=lamp.created_at,
    )


def history_view(h: LampHistoryModel) -> LampHistoryEntryOut:
    return LampHistoryEntryOut.model_validate(h)


# ---- contracts and schools --------------------------------------------------------------


def create_contract(body: ContractIn, now: dt.datetime | None = None) -> ContractOut:
    contract = ContractModel(
        new_id("c"),
        code=body.code,
        name=body.name,
        customer=body.customer,
        policy=body.policy.model_dump(mode="json"),
        warranty=body.warranty.model_dump(mode="json"),
        created_at=now or utcnow(),
    )
    access.create_contract(contract)
    return contract_view(contract)


def get_contract(contract_id: str) -> ContractOut:
    return contract_view(access.get_contract(contract_id))


def contract_policy(contract: ContractModel) -> ServicePolicy:
    return ServicePolicy.from_stored(contract.policy)  # any shape ever stored (services/sla_policies.py)


def contract_warranty(contract: ContractModel) -> WarrantyTerms:
    return WarrantyTerms.model_validate(contract.warranty)


def create_school(body: SchoolIn, now: dt.datetime | None = None) -> SchoolOut:
    access.get_contract(body.contract_id)
    school_id = new_id("s")
    school = SchoolModel(
        school_id,
        contract_id=body.contract_id,
        code=body.code,
        name=body.name,
        name_key=f"{body.name.casefold()}#{school_id}",
        address=body.address,
        latitude=body.latitude,
        longitude=body.longitude,
        province=body.province or None,
        contacts=[new_contact(**c.model_dump()) for c in body.contacts],
        hazards=body.hazards,
        geofence_m=body.geofence_m,
        created_at=now or utcnow(),
    )
    access.create_school(school)
    return school_view(school)


def get_school(school_id: str, actor: Principal) -> SchoolWithRoomsOut:
    require_school(actor, school_id, what="school", key=school_id)  # D-A3, before any read
    school = access.get_school(school_id)
    rooms = [RoomOut.model_validate(r) for r in access.query_rooms(school_id)]
    return SchoolWithRoomsOut(**dict(school_view(school)), rooms=rooms)


def list_schools(query: SchoolListQuery) -> SchoolPageOut:
    page = access.query_schools(query.contract_id, query.limit, decode_cursor(query.cursor))
    return SchoolPageOut(items=[school_view(s) for s in page.items], next_cursor=encode_cursor(page.next_key))


# ---- lamps --------------------------------------------------------------------------------


def build_lamp(
    spec: assets.LampSpec,
    school: SchoolModel,
    warranty: WarrantyTerms,
    number: int,
    now: dt.datetime,
    *,
    lamp_id: str | None = None,
) -> LampModel:
    lamp_id = lamp_id or new_id("l")
    return LampModel(
        lamp_id,
        asset_no=assets.asset_no(school.code, number),
        school_id=school.school_id,
        room_id=spec.room_id,
        position=spec.position,
        location_key=assets.location_key(spec.room_id, spec.position, lamp_id),
        model=spec.model,
        serial=spec.serial,
        batch=spec.batch,
        configuration=spec.configuration,
        installed_on=spec.installed_on.isoformat(),
        accepted_on=spec.accepted_on.isoformat(),
        warranty_years=warranty.years,
        warranty_extension_days=0,
        warranty_end=warranty_end(spec.accepted_on, warranty.years).isoformat(),
        status=assets.LampStatus.IN_SERVICE.value,
        open_tickets=0,
        qr_token=assets.new_qr_token(),
        created_at=now,
    )


def create_lamp(body: LampIn, actor: Principal, now: dt.datetime | None = None) -> LampOut:
    now = now or utcnow()
    school = access.get_school(body.school_id)
    warranty = contract_warranty(access.get_contract(school.contract_id))
    room_is_new = not access.room_exists(school.school_id, body.room_id)
    lamp = build_lamp(body, school, warranty, access.reserve_numbers(f"asset#{school.school_id}"), now)
    history = access.history_entry(
        lamp.lamp_id,
        now,
        "registered",
        actor=actor.sub,
        summary=f"registered in {body.room_id} position {body.position}",
    )
    room = RoomModel(school.school_id, body.room_id, building=body.building, floor=body.floor, name=body.room_id)
    access.register_lamp(lamp, history, room if room_is_new else None)
    return lamp_view(lamp)


def get_lamp(lamp_id: str, actor: Principal) -> LampOut:
    lamp = access.get_lamp(lamp_id)
    require_school(actor, lamp.school_id, what="lamp", key=lamp_id)  # D-A3
    return lamp_view(lamp)


def list_lamps(school_id: str, room_id: str | None, query: PageQuery, actor: Principal) -> LampPageOut:
    require_school(actor, school_id, what="school", key=school_id)  # D-A3, before any read
    access.get_school(school_id)
    page = access.query_lamps_in_school(school_id, room_id, query.limit, decode_cursor(query.cursor))
    return LampPageOut(items=[lamp_view(lamp) for lamp in page.items], next_cursor=encode_cursor(page.next_key))


def get_lamp_history(lamp_id: str, query: PageQuery, actor: Principal) -> LampHistoryPageOut:
    lamp = access.get_lamp(lamp_id)
    require_school(actor, lamp.school_id, what="lamp", key=lamp_id)  # D-A3
    page = access.query_lamp_history(lamp_id, query.limit, decode_cursor(query.cursor))
    return LampHistoryPageOut(
        items=[history_view(h) for h in page.items],
        next_cursor=encode_cursor(page.next_key),
        lamp=LampHistoryLampOut.model_validate(lamp),
    )


def rotate_qr_token(lamp_id: str, actor: Principal, now: dt.datetime | None = None) -> LampOut:
    """A new label: the old token stops resolving at once (the GSI holds only the current one)."""
    now = now or utcnow()
    lamp = access.get_lamp(lamp_id)
    history = access.history_entry(lamp.lamp_id, now, "qr_rotated", actor=actor.sub, summary="QR label replaced")
    access.rotate_qr_token(lamp, assets.new_qr_token(), history)
    return lamp_view(lamp)


def resolve_qr_token(token: str) -> QrResolutionOut:
    """What a teacher's phone shows after scanning: where this lamp is, whether a fault is open. No personal data."""
    lamp = access.find_lamp_by_qr_token(token)
    school = access.get_school(lamp.school_id)
    return QrResolutionOut(
        lamp=QrLampOut(
            asset_no=lamp.asset_no,
            room_id=lamp.room_id,
            position=lamp.position,
            model=lamp.model,
            has_open_fault=lamp.open_tickets > 0,
        ),
        school=QrSchoolOut(name=school.name),
        report_url=report_url(token),
    )


def replace_lamp(
    lamp_id: str, body: LampReplacementIn, actor: Principal, now: dt.datetime | None = None
) -> LampReplacementOut:
    """D-A2: the old unit keeps its history; the new one takes its room and position."""
    now = now or utcnow()
    old = access.get_lamp(lamp_id)
    if old.status != assets.LampStatus.IN_SERVICE or old.successor_id:
        raise Conflict(
            f"lamp '{lamp_id}' is {old.status} and cannot be replaced again",
            extra={"current_status": old.status, "successor_id": old.successor_id},
        )
    school = access.get_school(old.school_id)
    warranty = contract_warranty(access.get_contract(school.contract_id))
    spec = assets.LampSpec(
        room_id=old.room_id,
        position=old.position,
        model=body.model or old.model,
        serial=body.serial,
        batch=body.batch,
        configuration=old.configuration,
        installed_on=body.installed_on,
        accepted_on=body.installed_on,
    )
    new = build_lamp(spec, school, warranty, access.reserve_numbers(f"asset#{school.school_id}"), now)
    new.predecessor_id = old.lamp_id
    data = {"reason": body.reason, "ticket_id": body.ticket_id}
    old_history = access.history_entry(
        old.lamp_id,
        now,
        "replaced",
        ref=new.lamp_id,
        actor=actor.sub,
        summary=f"replaced by {new.asset_no} (serial {new.serial})",
        data=data,
    )
    new_history = access.history_entry(
        new.lamp_id,
        now,
        "installed_as_replacement",
        ref=old.lamp_id,
        actor=actor.sub,
        summary=f"took the place of {old.asset_no} (serial {old.serial})",
        data=data,
    )
    access.replace_lamp(old, new, old_history, new_history)
    return LampReplacementOut(replaced=lamp_view(old, now.date()), successor=lamp_view(new, now.date()))
