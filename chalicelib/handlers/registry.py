"""Contracts, schools, lamps, QR tokens and labels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Response

from chalicelib.auth import STAFF, Role
from chalicelib.handlers import _pages as pages
from chalicelib.handlers._api import Api, RequestContext
from chalicelib.lazy import lazy_module
from chalicelib.media_types import EQUIPMENT_LIST_TYPES, OCTET_STREAM, PDF

if TYPE_CHECKING:  # mypy checks every call against the service's signature; at run time they load on first use
    from chalicelib.schemas import (
        ContractOut,
        ImportReportOut,
        LampHistoryPageOut,
        LampOut,
        LampPageOut,
        LampReplacementOut,
        QrResolutionOut,
        SchoolOut,
        SchoolPageOut,
        SchoolWithRoomsOut,
    )
    from chalicelib.services import imports, labels, registry
else:
    imports = lazy_module("chalicelib.services.imports")
    labels = lazy_module("chalicelib.services.labels")
    registry = lazy_module("chalicelib.services.registry")

api = Api(__name__)

ADMINS = [Role.ADMIN]
REGISTRARS = [Role.ADMIN, Role.DISPATCHER, Role.PROJECT_LEAD]
# STAFF is the supplier's people; a school's staff are added route by route, and the services limit
# them to their own school (chalicelib/services/scope.py, D-A3).
WITH_SCHOOL_STAFF = [*STAFF, Role.SCHOOL_STAFF]


@api.route(
    "/contracts",
    "POST",
    operation_id="createContract",
    response="ContractOut",
    roles=ADMINS,
    body="ContractIn",
    status=201,
)
def create_contract(ctx: RequestContext) -> ContractOut:
    """A contract with its service policy and warranty terms; DOMAIN's tables are the defaults."""
    return registry.create_contract(ctx.body)


@api.route("/contracts/{contract_id}", "GET", operation_id="getContract", response="ContractOut", roles=STAFF)
def get_contract(ctx: RequestContext, contract_id: str) -> ContractOut:
    """One contract."""
    return registry.get_contract(contract_id)


@api.route(
    "/schools", "POST", operation_id="createSchool", response="SchoolOut", roles=ADMINS, body="SchoolIn", status=201
)
def create_school(ctx: RequestContext) -> SchoolOut:
    """A school with its address, GPS position, contacts and site hazard notes (D-O5)."""
    return registry.create_school(ctx.body)


@api.route(
    "/schools", "GET", operation_id="listSchools", response="SchoolPageOut", roles=STAFF, query="SchoolListQuery"
)
def list_schools(ctx: RequestContext) -> SchoolPageOut:
    """Schools by name, optionally of one contract; paginated."""
    return registry.list_schools(ctx.query)


@api.route(
    "/schools/{school_id}", "GET", operation_id="getSchool", response="SchoolWithRoomsOut", roles=WITH_SCHOOL_STAFF
)
def get_school(ctx: RequestContext, school_id: str) -> SchoolWithRoomsOut:
    """One school and its rooms.

    School staff read their own school; any other school is 404, as if it did not exist.
    """
    return registry.get_school(school_id, ctx.principal)


@api.route(
    "/schools/{school_id}/lamps",
    "GET",
    operation_id="listSchoolLamps",
    response="LampPageOut",
    roles=WITH_SCHOOL_STAFF,
    query="LampListQuery",
)
def list_school_lamps(ctx: RequestContext, school_id: str) -> LampPageOut:
    """A school's lamps in room and position order, optionally of one room, with their state; paginated.

    School staff list their own school's lamps; any other school is 404.
    """
    return registry.list_lamps(school_id, ctx.query.room_id, ctx.query, ctx.principal)


@api.route(
    "/schools/{school_id}/lamps/import",
    "POST",
    operation_id="importLamps",
    response="ImportReportOut",
    roles=REGISTRARS,
    query="ImportQuery",
    raw_body=True,
    content_types=[*EQUIPMENT_LIST_TYPES, OCTET_STREAM, "application/json"],
)
def import_lamps(ctx: RequestContext, school_id: str) -> ImportReportOut:
    """Imports a school's equipment list (CSV or XLSX), idempotent by serial.

    Send the file as the body with its type, or as `application/octet-stream` (what generated clients
    send): an XLSX is recognised by its bytes (a ZIP package), anything else is read as CSV.

    Bad rows are reported by row, column and problem. `mode=partial` (default) imports the good rows;
    `mode=all_or_nothing` writes nothing if any row is bad (422 `import_rejected` with `rows`).
    Up to 10,000 rows per file.
    """
    content_type = ctx.headers.get("content-type", "")
    return imports.import_lamps(school_id, ctx.raw_body, content_type, ctx.query.mode, ctx.principal)


@api.route(
    "/schools/{school_id}/qr-labels",
    "GET",
    operation_id="getQrLabels",
    response="application/pdf",
    roles=REGISTRARS,
    query="LabelsQuery",
)
def get_qr_labels(ctx: RequestContext, school_id: str) -> Response:
    """A printable A4 PDF of QR labels for a school, or one room of it.

    One label per lamp in service: school, room, lamp number and the QR code of its report URL.
    Served as `application/octet-stream` to a client whose `Accept` names that and not `application/pdf`.
    """
    pdf, filename = labels.label_sheet(school_id, ctx.query.room_id)
    accept = ctx.headers.get("accept", "")
    # A generic client that reads only "a file" asks for application/octet-stream: the same bytes.
    media_type = OCTET_STREAM if OCTET_STREAM in accept and PDF not in accept else PDF
    return Response(
        body=pdf,
        status_code=200,
        headers={"Content-Type": media_type, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


@api.route("/lamps", "POST", operation_id="createLamp", response="LampOut", roles=REGISTRARS, body="LampIn", status=201)
def create_lamp(ctx: RequestContext) -> LampOut:
    """Registers one lamp; its QR token is random and its warranty end derived (D-A1, D-W1)."""
    return registry.create_lamp(ctx.body, ctx.principal)


@api.route("/lamps/{lamp_id}", "GET", operation_id="getLamp", response="LampOut", roles=WITH_SCHOOL_STAFF)
def get_lamp(ctx: RequestContext, lamp_id: str) -> LampOut:
    """One lamp, with its warranty state and open faults.

    School staff read their own school's lamps; another school's lamp is 404.
    """
    return registry.get_lamp(lamp_id, ctx.principal)


@api.route(
    "/lamps/{lamp_id}/history",
    "GET",
    operation_id="getLampHistory",
    response="LampHistoryPageOut",
    roles=WITH_SCHOOL_STAFF,
    query="PageQuery",
)
def get_lamp_history(ctx: RequestContext, lamp_id: str) -> LampHistoryPageOut:
    """Every ticket, visit, part swap and label change of a lamp, oldest first (D-A2).

    School staff read their own school's lamps; another school's lamp is 404.
    """
    return registry.get_lamp_history(lamp_id, ctx.query, ctx.principal)


@api.route("/lamps/{lamp_id}/qr-token", "POST", operation_id="rotateLampQrToken", response="LampOut", roles=REGISTRARS)
def rotate_lamp_qr_token(ctx: RequestContext, lamp_id: str) -> LampOut:
    """Issues a new QR token; the old printed label stops working at once."""
    return registry.rotate_qr_token(lamp_id, ctx.principal)


@api.route(
    "/lamps/{lamp_id}/replacement",
    "POST",
    operation_id="replaceLamp",
    response="LampReplacementOut",
    roles=[Role.ENGINEER, Role.EXPERT, Role.DISPATCHER, Role.ADMIN],
    body="LampReplacementIn",
    status=201,
)
def replace_lamp(ctx: RequestContext, lamp_id: str) -> LampReplacementOut:
    """Replaces a unit: the old one keeps its history, the successor takes its room and position (D-A2)."""
    return registry.replace_lamp(lamp_id, ctx.body, ctx.principal)


@api.route("/r/{qr_token}", "GET", operation_id="resolveQrToken", response="QrResolutionOut", roles=None, html=True)
def resolve_qr_token(ctx: RequestContext, qr_token: str) -> QrResolutionOut | Response:
    """What a phone shows after scanning a label: the lamp, its school, any open fault. No login.

    A browser (`Accept: text/html`) gets the report page: the lamp, its open case if any, and the form
    (Chinese or English by `Accept-Language`, `?lang=`).
    """
    if pages.wants_html(ctx.headers):
        return pages.report_page(ctx, qr_token)
    return registry.resolve_qr_token(qr_token)
