"""Contracts, schools, rooms, lamps, users and uniqueness guards (DOMAIN D-A1..D-A4)."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from chalicelib.models.base import register


class ContractModel(Model):
    class Meta:
        table_name = "contracts"

    contract_id = UnicodeAttribute(hash_key=True)
    code = UnicodeAttribute()  # project numbering prefix, D-A4
    name = UnicodeAttribute()
    customer = UnicodeAttribute(default="")
    policy = JSONAttribute()  # fault levels and deadlines, D-S5
    # The policy's revision (None: 1, as created); earlier revisions are kept in sla-policies.
    policy_revision = NumberAttribute(null=True)
    policy_updated_at = UTCDateTimeAttribute(null=True)
    policy_updated_by = UnicodeAttribute(null=True)
    warranty = JSONAttribute()  # D-W1..D-W5 terms
    created_at = UTCDateTimeAttribute()


class SchoolsByName(GlobalSecondaryIndex["SchoolModel"]):
    class Meta:
        index_name = "by_name"
        projection = AllProjection()

    listing = UnicodeAttribute(hash_key=True)  # constant "school": the directory is small
    name_key = UnicodeAttribute(range_key=True)


class SchoolsByContract(GlobalSecondaryIndex["SchoolModel"]):
    class Meta:
        index_name = "by_contract"
        projection = AllProjection()

    contract_id = UnicodeAttribute(hash_key=True)
    name_key = UnicodeAttribute(range_key=True)


class ContactAttribute(MapAttribute[str, Any]):
    name = UnicodeAttribute()
    role = UnicodeAttribute(default="")
    phone = UnicodeAttribute(default="")
    email = UnicodeAttribute(default="")


def new_contact(name: str, role: str = "", phone: str = "", email: str = "") -> ContactAttribute:
    return ContactAttribute(name=name, role=role, phone=phone, email=email)


def contact_fields(contact: ContactAttribute) -> dict[str, Any]:
    return dict(contact.as_dict())


class SchoolModel(Model):
    class Meta:
        table_name = "schools"

    school_id = UnicodeAttribute(hash_key=True)
    contract_id = UnicodeAttribute()
    code = UnicodeAttribute()
    name = UnicodeAttribute()
    name_key = UnicodeAttribute()  # lower-cased name + id: stable sort, unique
    listing = UnicodeAttribute(default="school")
    address = UnicodeAttribute()
    latitude = NumberAttribute()
    longitude = NumberAttribute()
    province = UnicodeAttribute(null=True)  # for in-province / out-of-province SLA terms (D-S5)
    contacts = ListAttribute[ContactAttribute](of=ContactAttribute, default=list)
    hazards = ListAttribute[str](default=list)  # D-O5 site safety notes
    geofence_m = NumberAttribute(null=True)  # the check-in fence's radius (issue 11.3); None: the default
    created_at = UTCDateTimeAttribute()

    by_name = SchoolsByName()
    by_contract = SchoolsByContract()


class RoomModel(Model):
    class Meta:
        table_name = "rooms"

    school_id = UnicodeAttribute(hash_key=True)
    room_id = UnicodeAttribute(range_key=True)  # the school's own room code, e.g. "A-101"
    building = UnicodeAttribute(default="")
    floor = UnicodeAttribute(default="")
    name = UnicodeAttribute(default="")


class LampsByQrToken(GlobalSecondaryIndex["LampModel"]):
    """Every QR scan lands here: it carries what the report page shows, so a scan is one Query."""

    class Meta:
        index_name = "by_qr_token"
        projection = IncludeProjection(
            ["school_id", "asset_no", "room_id", "position", "model", "open_tickets", "open_case_id"]
        )

    qr_token = UnicodeAttribute(hash_key=True)


class LampsByAssetNo(GlobalSecondaryIndex["LampModel"]):
    """A lamp by its asset number (SH01-00007), which partner platforms file Open311 requests against
    (`address_id`); it carries what filing a report needs, so finding the lamp is one Query."""

    class Meta:
        index_name = "by_asset_no"
        projection = IncludeProjection(["school_id", "room_id", "open_case_id", "successor_id"])

    asset_no = UnicodeAttribute(hash_key=True)


class LampsByLocation(GlobalSecondaryIndex["LampModel"]):
    """Lamps currently installed in a school, by room and position (sparse: replaced units drop out)."""

    class Meta:
        index_name = "by_location"
        projection = AllProjection()

    school_id = UnicodeAttribute(hash_key=True)
    location_key = UnicodeAttribute(range_key=True)


class LampModel(Model):
    class Meta:
        table_name = "lamps"

    lamp_id = UnicodeAttribute(hash_key=True)
    asset_no = UnicodeAttribute()  # human number, per school (D-A4)
    school_id = UnicodeAttribute()
    room_id = UnicodeAttribute()
    position = UnicodeAttribute()
    location_key = UnicodeAttribute(null=True)  # room#position#lamp while installed
    model = UnicodeAttribute()
    serial = UnicodeAttribute()
    batch = UnicodeAttribute(default="")
    configuration = UnicodeAttribute(default="")
    installed_on = UnicodeAttribute()  # ISO date
    accepted_on = UnicodeAttribute()  # ISO date, warranty starts here (D-W1)
    warranty_years = NumberAttribute()
    warranty_extension_days = NumberAttribute(default=0)  # D-W3
    warranty_end = UnicodeAttribute()  # derived, stored for reports
    status = UnicodeAttribute(default="in_service")
    open_tickets = NumberAttribute(default=0)
    open_case_id = UnicodeAttribute(null=True)  # the latest case opened on this lamp; a scan joins it while open
    qr_token = UnicodeAttribute()
    predecessor_id = UnicodeAttribute(null=True)
    successor_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()

    by_qr_token = LampsByQrToken()
    by_location = LampsByLocation()
    by_asset_no = LampsByAssetNo()


class LampHistoryModel(Model):
    """The lamp's maintenance record (D-A2): one item per ticket, visit, part swap or replacement."""

    class Meta:
        table_name = "lamp-history"

    lamp_id = UnicodeAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)  # ISO time#kind#ref: chronological
    at = UTCDateTimeAttribute()
    kind = UnicodeAttribute()
    ref = UnicodeAttribute(default="")
    actor = UnicodeAttribute(default="")
    summary = UnicodeAttribute(default="")
    data = JSONAttribute(default=dict)


class UniqueKeyModel(Model):
    """Uniqueness guards written in the same transaction as their owner (e.g. a lamp serial)."""

    class Meta:
        table_name = "unique-keys"

    key = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    scope = UnicodeAttribute(default="")  # e.g. the school a serial is registered at
    place = UnicodeAttribute(null=True)  # a serial's room#position when registered; a future move updates it


class CounterModel(Model):
    """Atomic sequences: ticket reference numbers per year, asset numbers per school."""

    class Meta:
        table_name = "counters"

    name = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)


class UserModel(Model):
    class Meta:
        table_name = "users"

    user_id = UnicodeAttribute(hash_key=True)  # the token's `sub`
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    phone = UnicodeAttribute(default="")
    email = UnicodeAttribute(default="")
    active = BooleanAttribute(default=True)


for _model in (
    ContractModel,
    SchoolModel,
    RoomModel,
    LampModel,
    LampHistoryModel,
    UniqueKeyModel,
    CounterModel,
    UserModel,
):
    register(_model)
