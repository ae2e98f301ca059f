"""Open311 GeoReport v2's own shapes (wiki.open311.org/GeoReport_v2): its field names, its XML elements.

Re-exported by `chalicelib.schemas`, so routes name them like every other schema. Each model carries
OpenAPI's XML object (`xml: {name, wrapped}`) in its JSON Schema: the document describes both formats
with one schema, and the handler renders the XML answer from the same annotations
(`chalicelib.handlers._xml`), so the two formats and the document cannot disagree.

Times are W3C date-times in UTC without fractions (2026-11-29T07:01:18Z), as the spec's examples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, RootModel, WithJsonSchema

from chalicelib.domain.public_reports import Fault


def w3_time(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


W3Time = Annotated[
    dt.datetime,
    PlainSerializer(w3_time, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def _element(name: str) -> ConfigDict:
    """An object rendered as the XML element `name`."""
    return ConfigDict(extra="forbid", defer_build=True, from_attributes=True, json_schema_extra={"xml": {"name": name}})


def _list_element(name: str) -> ConfigDict:
    """A top-level JSON array rendered as the XML element `name` around one element per item."""
    return ConfigDict(defer_build=True, json_schema_extra={"xml": {"name": name, "wrapped": True}})


def _wrapped(item: str | None = None) -> Callable[[dict[str, Any]], None]:
    """A list field: in XML an element of the field's name around one element per item (named `item`,
    or by the item model's own element name)."""

    def annotate(schema: dict[str, Any]) -> None:
        schema["xml"] = {"wrapped": True}
        if item is not None:
            schema["items"]["xml"] = {"name": item}

    return annotate


# ---- discovery.{format} (Service Discovery) ---------------------------------------------------------


class Open311EndpointOut(BaseModel):
    model_config = _element("endpoint")

    specification: str = Field(description="http://wiki.open311.org/GeoReport_v2")
    url: str = Field(description="The endpoint: append /services.json, /requests.xml ...")
    changeset: str = Field(description="Sortable: the last time the service list changed.")
    type: Literal["production", "test"]
    formats: list[str] = Field(json_schema_extra=_wrapped("format"), description="text/xml and application/json.")


class Open311DiscoveryOut(BaseModel):
    model_config = _element("discovery")

    changeset: str
    contact: str
    key_service: str = Field(description="How a partner platform gets an api_key.")
    endpoints: list[Open311EndpointOut] = Field(json_schema_extra=_wrapped())


# ---- services.{format} ---------------------------------------------------------------------------------


class Open311ServiceOut(BaseModel):
    model_config = _element("service")

    service_code: Fault = Field(description="One per fault a teacher can report.")
    service_name: str
    description: str
    metadata: bool = Field(description="Always false: no service definition to fetch, no attributes.")
    type: Literal["realtime", "batch", "blackbox"] = Field(description="Always realtime: the id is answered at once.")
    keywords: str = Field(description="Comma separated synonyms, Chinese included.")
    group: str


class Open311ServicesOut(RootModel[list[Open311ServiceOut]]):
    model_config = _list_element("services")


# ---- requests.{format} -----------------------------------------------------------------------------------


class Open311RequestIn(BaseModel):
    """POST requests, form-encoded (application/x-www-form-urlencoded) as the spec has it. Every field is
    text; the endpoint checks them itself so that each refusal has the spec's status (403, 404, 400)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)  # attribute[...] and extensions: ignored

    api_key: str = Field(default="", description="Issued to your platform; required.")
    jurisdiction_id: str = Field(default="", description="Ignored: this endpoint serves one jurisdiction.")
    service_code: str = Field(default="", description="Required: a service_code from GET services.")
    address_id: str = Field(
        default="", description="Required: the lamp's asset number, printed on its label (e.g. SH01-00007)."
    )
    lat: str = Field(default="", description="Accepted, not used: the lamp's asset number locates it.")
    long: str = Field(default="", description="Accepted, not used.")
    address_string: str = Field(default="", description="Accepted, not used.")
    description: str = Field(default="", description="At most 4,000 characters.")
    phone: str = Field(default="", description="The reporter's; shown only to the dispatcher and the engineer.")
    first_name: str = Field(default="", description="Shown only to the dispatcher and the engineer.")
    last_name: str = Field(default="", description="Shown only to the dispatcher and the engineer.")
    email: str = Field(default="", description="Accepted, not stored.")
    device_id: str = Field(default="", description="Accepted, not stored.")
    account_id: str = Field(default="", description="Accepted, not stored.")
    media_url: str = Field(default="", description="Accepted, not stored: photos are private here.")


class Open311RequestsQuery(BaseModel):
    """GET requests' filters, as text: the endpoint reads them itself, because `service_request_id`
    overrides every other argument (a bad date beside it is not an error)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)  # page, page_size, api_key ...: ignored

    jurisdiction_id: str | None = Field(default=None, description="Ignored: this endpoint serves one jurisdiction.")
    service_request_id: str | None = Field(
        default=None, description="Comma delimited (at most 100); overrides all other arguments."
    )
    service_code: str | None = Field(default=None, description="Comma delimited; all services when absent.")
    start_date: str | None = Field(
        default=None, description="W3C date-time (2026-11-01T00:00:00Z); the window may not span more than 90 days."
    )
    end_date: str | None = Field(default=None, description="W3C date-time; the last 90 days when neither is given.")
    status: str | None = Field(default=None, description="open, closed, or both comma delimited; all when absent.")


class Open311CreatedOut(BaseModel):
    model_config = _element("request")

    service_request_id: str = Field(description="The ticket's reference, e.g. T-2026-000123.")
    service_notice: str | None
    account_id: str | None


class Open311CreatedListOut(RootModel[list[Open311CreatedOut]]):
    model_config = _list_element("service_requests")


class Open311RequestOut(BaseModel):
    model_config = _element("request")

    service_request_id: str = Field(description="The ticket's reference, e.g. T-2026-000123.")
    status: Literal["open", "closed"] = Field(
        description="closed: resolved, signed off, closed or cancelled; a merged duplicate has its case's status."
    )
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: W3Time
    updated_datetime: W3Time
    expected_datetime: W3Time | None = Field(description="The on-site deadline of the fault's level.")
    address: str | None = Field(description="Room, school, street.")
    address_id: str | None = Field(description="The lamp's asset number.")
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None = Field(description="Always empty: photos are private.")


class Open311RequestsOut(RootModel[list[Open311RequestOut]]):
    model_config = _list_element("service_requests")


# ---- errors ---------------------------------------------------------------------------------------------------


class Open311ErrorOut(BaseModel):
    model_config = _element("error")

    code: int = Field(description="The HTTP status: 400, 403 (api_key) or 404.")
    description: str


class Open311ErrorsOut(RootModel[list[Open311ErrorOut]]):
    model_config = _list_element("errors")
