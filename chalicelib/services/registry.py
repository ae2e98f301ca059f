"""Contracts, schools, rooms and lamps: registration, QR tokens, history, replacement (D-A1..D-A4)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain import assets
from chalicelib.domain.policy import ServicePolicy, WarrantyTerms, in_warranty, warranty_end
from chalicelib.errors import Conflict, FieldProblem
from chalicelib.models import access
from chalicelib.models.access import (
    ContractModel,
    LampHistoryModel,
    LampModel,
    RoomModel,
    SchoolModel,
    UniqueKeyModel,
)
from chalicelib.models.registry import ContactAttribute
from chalicelib.schemas import ContractIn, LampIn, LampReplacementIn, PageQuery, SchoolIn, SchoolListQuery
from chalicelib.services.ids import new_id, utcnow
from chalicelib.services.paging import decode_cursor, page_view
from chalicelib.settings import get_settings

# ---- views ----------------------------------------------------------------------------


def contract_view(c: ContractModel) -> dict[str, Any]:
    return {
        "contract_id": c.contract_id,
        "code": c.code,
        "name": c.name,
        "customer": c.customer,
        "policy": c.policy,
        "warranty": c.warranty,
        "created_at": c.created_at,
    }


def school_view(s: SchoolModel) -> dict[str, Any]:
    return {
        "school_id": s.school_id,
        "contract_id": s.contract_id,
        "code": s.code,
        "name": s.name,
        "address": s.address,
        "latitude": s.latitude,
        "longitude": s.longitude,
        "contacts": [c.as_dict() for c in s.contacts],
        "hazards": list(s.hazards),
        "created_at": s.created_at,
    }


def room_view(r: RoomModel) -> dict[str, Any]:
    return {"room_id": r.room_id, "building": r.building, "floor": r.floor, "name": r.name}


def report_url(token: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/r/{token}"


def lamp_view(lamp: LampModel, today: dt.date | None = None) -> dict[str, Any]:
    today = today or utcnow().date()
    accepted = dt.date.fromisoformat(lamp.accepted_on)
    return {
        "lamp_id": lamp.lamp_id,
        "asset_no": lamp.asset_no,
        "school_id": lamp.school_id,
        "room_id": lamp.room_id,
        "position": lamp.position,
        "model": lamp.model,
        "serial": lamp.serial,
        "batch": lamp.batch,
        "configuration": lamp.configuration,
        "installed_on": lamp.installed_on,
        "accepted_on": lamp.accepted_on,
        "warranty": {
            "years": lamp.warranty_years,
            "extension_days": lamp.warranty_extension_days,
            "ends_on": lamp.warranty_end,
            "in_warranty": in_warranty(accepted, lamp.warranty_years, int(lamp.warranty_extension_days), today),
        },
        "status": lamp.status,
        "has_open_fault": lamp.open_tickets > 0,
        "open_tickets": int(lamp.open_tickets),
        "qr_token": lamp.qr_token,
        "report_url": report_url(lamp.qr_token),
        "predecessor_id": lamp.predecessor_id,
        "successor_id": lamp.successor_id,
        "created_at": lamp.created_at,
    }


def history_view(h: LampHistoryModel) -> dict[str, Any]:
    return {"at": h.at, "kind": h.kind, "ref": h.ref, "actor": h.actor, "summary": h.summary, "data": h.data}


# ---- contracts and schools --------------------------------------------------------------


def create_contract(body: ContractIn, now: dt.datetime | None = None) -> dict[str, Any]:
    contract = ContractModel(
        new_id("c"),
        code=body.code,
        name=body.name,
        customer=body.customer,
        policy=body.policy.model_dump(mode="json"),
        warranty=body.warranty.model_dump(mode="json"),
        created_at=now or utcnow(),
    )
    access.put_new(contract, conflict_message="contract id collision, retry")
    return contract_view(contract)


def get_contract(contract_id: str) -> dict[str, Any]:
    return contract_view(access.get_contract(contract_id))


def contract_policy(contract: ContractModel) -> ServicePolicy:
    return ServicePolicy.model_validate(contract.policy)


def contract_warranty(contract: ContractModel) -> WarrantyTerms:
    return WarrantyTerms.model_validate(contract.warranty)


def create_school(body: SchoolIn, now: dt.datetime | None = None) -> dict[str, Any]:
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
        contacts=[ContactAttribute(**c.model_dump()) for c in body.contacts],
        hazards=body.hazards,
        created_at=now or utcnow(),
    )
    code_guard = UniqueKeyModel(f"school-code#{body.code.upper()}", owner_id=school_id)

    def write(tx: Any) -> None:
        tx.save(school, condition=SchoolModel.school_id.does_not_exist())
        tx.save(code_guard, condition=UniqueKeyModel.key.does_not_exist())

    try:
        access.transact(write)
    except access.TransactWriteError as exc:
        raise Conflict(
            f"a school with code '{body.code}' already exists",
            details=[FieldProblem("code", "already used by another school")],
        ) from exc
    return school_view(school)


def get_school(school_id: str) -> dict[str, Any]:
    school = access.get_school(school_id)
    view = school_view(school)
    view["rooms"] = [room_view(r) for r in access.query_rooms(school_id)]
    return view


def list_schools(query: SchoolListQuery) -> dict[str, Any]:
    page = access.query_schools(query.contract_id, query.limit, decode_cursor(query.cursor))
    return page_view([school_view(s) for s in page.items], page.next_key)


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
        status=assets.LampStatus.IN_SERVICE,
        open_tickets=0,
        qr_token=assets.new_qr_token(),
        created_at=now,
    )


def serial_guard(lamp: LampModel) -> UniqueKeyModel:
    """A serial is registered once (D-A1); the guard also says where, so re-imports need no lamp reads."""
    return UniqueKeyModel(
        f"serial#{lamp.serial}", owner_id=lamp.lamp_id, scope=lamp.school_id, place=f"{lamp.room_id}#{lamp.position}"
    )


def history_entry(
    lamp_id: str,
    at: dt.datetime,
    kind: str,
    *,
    ref: str = "",
    actor: str = "",
    summary: str = "",
    data: dict[str, Any] | None = None,
) -> LampHistoryModel:
    return LampHistoryModel(
        lamp_id,
        f"{at.isoformat()}#{kind}#{ref}",
        at=at,
        kind=kind,
        ref=ref,
        actor=actor,
        summary=summary,
        data=data or {},
    )


def create_lamp(body: LampIn, actor: Principal, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    school = access.get_school(body.school_id)
    warranty = contract_warranty(access.get_contract(school.contract_id))
    room_is_new = not access.room_exists(school.school_id, body.room_id)
    lamp = build_lamp(body, school, warranty, access.reserve_numbers(f"asset#{school.school_id}"), now)
    room = RoomModel(school.school_id, body.room_id, building=body.building, floor=body.floor, name=body.room_id)

    def write(tx: Any) -> None:
        tx.save(lamp, condition=LampModel.lamp_id.does_not_exist())
        tx.save(serial_guard(lamp), condition=UniqueKeyModel.key.does_not_exist())
        tx.save(
            history_entry(
                lamp.lamp_id,
                now,
                "registered",
                actor=actor.sub,
                summary=f"registered in {body.room_id} position {body.position}",
            )
        )
        if room_is_new:
            tx.save(room)

    try:
        access.transact(write)
    except access.TransactWriteError as exc:
        raise Conflict(
            f"a lamp with serial '{body.serial}' is already registered",
            details=[FieldProblem("serial", "already registered")],
        ) from exc
    return lamp_view(lamp)


def get_lamp(lamp_id: str) -> dict[str, Any]:
    return lamp_view(access.get_lamp(lamp_id))


def list_lamps(school_id: str, room_id: str | None, query: PageQuery) -> dict[str, Any]:
    access.get_school(school_id)
    page = access.query_lamps_in_school(school_id, room_id, query.limit, decode_cursor(query.cursor))
    return page_view([lamp_view(lamp) for lamp in page.items], page.next_key)


def get_lamp_history(lamp_id: str, query: PageQuery) -> dict[str, Any]:
    lamp = access.get_lamp(lamp_id)
    page = access.query_lamp_history(lamp_id, query.limit, decode_cursor(query.cursor))
    body = page_view([history_view(h) for h in page.items], page.next_key)
    body["lamp"] = {
        "lamp_id": lamp.lamp_id,
        "asset_no": lamp.asset_no,
        "status": lamp.status,
        "predecessor_id": lamp.predecessor_id,
        "successor_id": lamp.successor_id,
    }
    return body


def rotate_qr_token(lamp_id: str, actor: Principal, now: dt.datetime | None = None) -> dict[str, Any]:
    """A new label: the old token stops resolving at once (the GSI holds only the current one)."""
    now = now or utcnow()
    lamp = access.get_lamp(lamp_id)
    lamp.qr_token = assets.new_qr_token()

    def write(tx: Any) -> None:
        tx.update(lamp, actions=[LampModel.qr_token.set(lamp.qr_token)], condition=LampModel.lamp_id.exists())
        tx.save(history_entry(lamp.lamp_id, now, "qr_rotated", actor=actor.sub, summary="QR label replaced"))

    access.transact(write)
    return lamp_view(lamp)


def resolve_qr_token(token: str) -> dict[str, Any]:
    """What a teacher's phone shows after scanning: where this lamp is, whether a fault is open. No personal data."""
    lamp = access.find_lamp_by_qr_token(token)
    school = access.get_school(lamp.school_id)
    return {
        "lamp": {
            "asset_no": lamp.asset_no,
            "room_id": lamp.room_id,
            "position": lamp.position,
            "model": lamp.model,
            "has_open_fault": lamp.open_tickets > 0,
        },
        "school": {"name": school.name},
        "report_url": report_url(token),
    }


def replace_lamp(
    lamp_id: str, body: LampReplacementIn, actor: Principal, now: dt.datetime | None = None
) -> dict[str, Any]:
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
    new.open_tickets = 0

    def write(tx: Any) -> None:
        tx.update(
            old,
            actions=[
                LampModel.status.set(assets.LampStatus.REPLACED),
                LampModel.successor_id.set(new.lamp_id),
                LampModel.location_key.remove(),
            ],
            condition=(LampModel.status == assets.LampStatus.IN_SERVICE) & LampModel.successor_id.does_not_exist(),
        )
        tx.save(new, condition=LampModel.lamp_id.does_not_exist())
        tx.save(serial_guard(new), condition=UniqueKeyModel.key.does_not_exist())
        data = {"reason": body.reason, "ticket_id": body.ticket_id}
        tx.save(
            history_entry(
                old.lamp_id,
                now,
                "replaced",
                ref=new.lamp_id,
                actor=actor.sub,
                summary=f"replaced by {new.asset_no} (serial {new.serial})",
                data=data,
            )
        )
        tx.save(
            history_entry(
                new.lamp_id,
                now,
                "installed_as_replacement",
                ref=old.lamp_id,
                actor=actor.sub,
                summary=f"took the place of {old.asset_no} (serial {old.serial})",
                data=data,
            )
        )

    try:
        access.transact(write)
    except access.TransactWriteError as exc:
        # Which item failed is not worth decoding from the reasons (their order is pynamodb's):
        # one read, only on failure, tells a serial clash from a concurrent change.
        if access.registered_serials([body.serial]):
            raise Conflict(
                f"a lamp with serial '{body.serial}' is already registered",
                details=[FieldProblem("serial", "already registered")],
            ) from exc
        raise Conflict(f"lamp '{lamp_id}' changed while it was being replaced; reload and retry") from exc
    old.status, old.successor_id, old.location_key = assets.LampStatus.REPLACED, new.lamp_id, None
    return {"replaced": lamp_view(old, now.date()), "successor": lamp_view(new, now.date())}
