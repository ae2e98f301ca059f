"""Open311 partner platforms and the reads Open311 answers are made of (domain.open311).

A partner platform (a city's or an education bureau's) files requests with an `api_key` issued to it.
Only the key's SHA-256 is stored, as the item's key: a stolen table copy holds no usable key, and a
request's key is checked by one GetItem on its hash. No constant-time comparison is needed: nothing
compares the secret with a stored secret byte by byte; DynamoDB looks up a digest, and how long that
takes says nothing about the key behind another digest (finding a key for a digest is a preimage).

Every list is a Query on a key or index that returns exactly what is asked, never a Scan and never a
filter after the Query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib.domain import open311
from chalicelib.errors import Conflict, NotFound
from chalicelib.models.base import bind_tables, fits_key, register
from chalicelib.models.registry import LampModel, SchoolModel
from chalicelib.models.tickets import TicketModel


@register
class Open311PartnerModel(Model):
    class Meta:
        table_name = "open311-partners"

    key_hash = UnicodeAttribute(hash_key=True)  # sha256 hex of the api_key; the key itself is never stored
    partner_id = UnicodeAttribute()  # who filed: in the ticket's audit trail
    name = UnicodeAttribute()
    active = BooleanAttribute(default=True)  # revoked keys stay, inactive, so the audit trail still names them
    created_at = UTCDateTimeAttribute()


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def add_partner(partner: Open311PartnerModel) -> None:
    """Stores a partner under its key's hash; a hash already issued is refused (a key is issued once)."""
    bind_tables()
    try:
        partner.save(condition=Open311PartnerModel.key_hash.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict("this api_key is already issued") from exc
        raise


def put_partner(partner: Open311PartnerModel) -> None:
    """Writes a partner whatever is stored under its hash (demo data: the same key on every start)."""
    bind_tables()
    partner.save()


def find_partner(api_key: str) -> Open311PartnerModel | None:
    """The active partner this key was issued to, or None (unknown or revoked). One GetItem on the hash."""
    bind_tables()
    try:
        partner = Open311PartnerModel.get(key_hash(api_key))
    except Open311PartnerModel.DoesNotExist:
        return None
    return partner if partner.active else None


# ---- what a request is filed against -----------------------------------------------------------


def find_lamp_by_asset_no(asset_no: str) -> LampModel:
    """The lamp as the by_asset_no index projects it (ids, room, open case, successor), not the whole item."""
    bind_tables()
    found = list(LampModel.by_asset_no.query(asset_no, limit=1)) if fits_key(asset_no) else []
    if not found:
        raise NotFound(f"no lamp has the asset number '{asset_no}'")
    return found[0]


# ---- what Open311 answers show -------------------------------------------------------------------


def query_requests(
    month: str,
    service_code: str | None,
    status: open311.RequestStatus,
    start: dt.datetime,
    end: dt.datetime,
    limit: int,
) -> list[TicketModel]:
    """The requests of one UTC month (and service) in one state made within [start, end], newest first,
    at most `limit`: one Query whose key condition is exactly that (tickets as the index projects them)."""
    bind_tables()
    low, high = open311.sort_key(status, start), open311.sort_key(status, end)
    if service_code is None:
        index, key = TicketModel.by_open311_month, month
    else:
        index, key = TicketModel.by_open311_month_service, f"{month}#{service_code}"
    return list(index.query(key, TicketModel.open311_sort.between(low, high), scan_index_forward=False, limit=limit))


def tickets_by_refs(refs: Sequence[str]) -> dict[str, TicketModel]:
    """ref -> ticket for the refs that exist: one by_ref Query per ref (keys only), then one BatchGet."""
    bind_tables()
    ids = {}
    for ref in dict.fromkeys(r for r in refs if fits_key(r)):  # a value DynamoDB refuses as a key: no such ticket
        keys = list(TicketModel.by_ref.query(ref, limit=1))
        if keys:
            ids[keys[0].ticket_id] = ref
    if not ids:
        return {}
    return {t.ref: t for t in TicketModel.batch_get(list(ids))}


def tickets_by_ids(ticket_ids: Iterable[str]) -> dict[str, TicketModel]:
    bind_tables()
    wanted = list(dict.fromkeys(ticket_ids))
    return {t.ticket_id: t for t in TicketModel.batch_get(wanted)} if wanted else {}


def schools_by_ids(school_ids: Iterable[str]) -> dict[str, SchoolModel]:
    bind_tables()
    wanted = list(dict.fromkeys(school_ids))
    return {s.school_id: s for s in SchoolModel.batch_get(wanted)} if wanted else {}


def asset_numbers(lamp_ids: Iterable[str]) -> dict[str, str]:
    """lamp id -> asset number (BatchGet of just those two attributes, 100 keys a call)."""
    bind_tables()
    wanted = list(dict.fromkeys(lamp_ids))
    if not wanted:
        return {}
    return {
        lamp.lamp_id: lamp.asset_no for lamp in LampModel.batch_get(wanted, attributes_to_get=["lamp_id", "asset_no"])
    }
