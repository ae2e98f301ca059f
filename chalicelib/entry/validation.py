"""Input to a pydantic model, refused cheaply when it is wrong.

Three doors: `parse_json` (a request body as bytes), `parse_payload` (an event payload the Lambda
runtime already decoded: a task's input, a queue message) and `parse_query` (a query string).

Bodies and payloads are JSON, so their types are checked strictly (pydantic's strict mode on
JSON input: no `true` or `"2"` where a number is declared, no number where text is; ISO dates and
enum values still read as such). Query strings are text by nature and stay lax (`?limit=20`).

Cheap before dear (issue 8): the size is checked before anything is read; the body is decoded
once by the standard library, and fields the model does not declare (at the top level and in
nested models) are counted there, listed up to `MAX_DETAILS` and dropped, so pydantic only ever
validates what the model declares. A body of 131,000 unknown fields costs one `json.loads` and
gets a 422 of a few hundred bytes with `more_details`, not a 6 MB list. Every other problem is
still reported in the same answer, because pydantic runs on the declared fields.

Problems name plain fields (`reporter.email`, `lamp_ids.1`, `(root)`, `query.limit`). Must never
import chalice; pydantic loads with the first model validated.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Union

from chalicelib.entry.failures import MAX_DETAILS
from chalicelib.errors import FieldProblem, InvalidQuery, MalformedInput, NotFound, PayloadTooLarge, ValidationFailed

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

UNKNOWN_FIELD = "unknown field"
# Every id, token and reference the API issues is far shorter. DynamoDB refuses a key value over 2,048 bytes
# (1,024 for a sort key) with a ValidationException; 128 characters are at most 512 bytes.
MAX_PATH_PARAM = 128


def check_size(raw: bytes, limit: int) -> None:
    if len(raw) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")


def check_path(params: Mapping[str, str]) -> None:
    """A path parameter longer than anything the API issues names nothing: a 404 before it becomes a key."""
    too_long = [name for name, value in params.items() if len(value) > MAX_PATH_PARAM]
    if too_long:
        raise NotFound(
            f"no {too_long[0]} is longer than {MAX_PATH_PARAM} characters",
            details=[FieldProblem(name, f"longer than {MAX_PATH_PARAM} characters") for name in too_long],
        )


def parse_json(raw: bytes, model: type[BaseModel]) -> BaseModel:
    """A JSON request body to `model` (or, for a union told apart by a field, to its variant)."""
    if not raw.strip():
        raise MalformedInput(
            "the request body is empty; a JSON object is expected", details=[FieldProblem("(body)", "missing")]
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedInput(
            "the request body is not valid JSON", details=[FieldProblem("(body)", "not valid JSON")]
        ) from exc
    return _validate(data, raw, model, "the request body is invalid")


def parse_payload(payload: Any, model: type[BaseModel]) -> BaseModel:
    """An event payload, already decoded by the runtime, under the same rules as a JSON body."""
    try:
        raw = json.dumps(payload).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise MalformedInput("the payload is not JSON", details=[FieldProblem("(payload)", "not JSON")]) from exc
    return _validate(payload, raw, model, "the payload is invalid")


def parse_query(params: Mapping[str, str] | None, model: type[BaseModel]) -> BaseModel:
    from pydantic import ValidationError

    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as exc:
        listed, total = problems_of(exc, "query.")
        raise InvalidQuery("the query string is invalid", details=listed, extra=_more(total, listed)) from exc


def problems_of(exc: ValidationError, prefix: str = "", limit: int = MAX_DETAILS) -> tuple[list[FieldProblem], int]:
    """The first `limit` problems of a pydantic error, and how many there are in all."""
    return _listed(exc.errors(include_url=False, include_context=False, include_input=False), prefix, limit), (
        exc.error_count()
    )


def _listed(errs: Sequence[Any], prefix: str = "", limit: int = MAX_DETAILS) -> list[FieldProblem]:
    listed = []
    for err in errs[:limit]:
        location = ".".join(str(p) for p in err["loc"]) or "(root)"
        problem = UNKNOWN_FIELD if err["type"] == "extra_forbidden" else err["msg"]
        listed.append(FieldProblem(field=f"{prefix}{location}", problem=problem))
    return listed


def _more(total: int, listed: Sequence[FieldProblem]) -> dict[str, Any]:
    return {"more_details": total - len(listed)} if total > len(listed) else {}


def _validate(data: Any, raw: bytes, model: type[BaseModel], message: str) -> BaseModel:
    from pydantic import ValidationError

    variant_for = getattr(model, "variant_for", None)
    # A union told apart by a field (a ticket change by `action`): validate the chosen variant alone,
    # so problems name plain fields; then wrap it in the union's model.
    target: type[BaseModel] = variant_for(data) if variant_for is not None else model
    unknown = _Unknown()
    declared = _drop_unknown(_model_shape(target), data, "", unknown)
    if unknown.count:
        raw = json.dumps(declared).encode()  # what the model declares: bounded by the schema, not the sender
    try:
        parsed = target.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        errs = exc.errors(include_url=False, include_context=False, include_input=False)
        if any(e["type"] == "json_invalid" for e in errs):  # text json.loads took but pydantic's parser does not
            raise MalformedInput(
                "the request body is not valid JSON", details=[FieldProblem("(body)", "not valid JSON")]
            ) from exc
        listed = _listed(errs)
        missing = getattr(target, "missing_problem", None)  # a variant says who needs it: "required for assign"
        if missing is not None:
            listed = [FieldProblem(p.field, missing()) if p.problem == "Field required" else p for p in listed]
        listed += unknown.first[: MAX_DETAILS - len(listed)]
        raise ValidationFailed(message, details=listed, extra=_more(len(errs) + unknown.count, listed)) from exc
    if unknown.count:
        raise ValidationFailed(message, details=unknown.first, extra=_more(unknown.count, unknown.first))
    if variant_for is not None:
        wrapped: BaseModel = model.from_variant(parsed)  # type: ignore[attr-defined]
        return wrapped
    return parsed


# ---- fields a model does not declare, found without pydantic ------------------------------------


@dataclass
class _Unknown:
    first: list[FieldProblem] = field(default_factory=list)
    count: int = 0

    def add(self, path: str) -> None:
        self.count += 1
        if len(self.first) < MAX_DETAILS:
            self.first.append(FieldProblem(path, UNKNOWN_FIELD))


@dataclass(frozen=True)
class _Shape:
    """Where a value may hold objects whose keys a model declares: the model itself (`fields`, for
    one that refuses unknown fields), or the items of a list, or the values of a mapping."""

    fields: Mapping[str, _Shape] | None = None
    items: _Shape | None = None
    values: _Shape | None = None


_FREE = _Shape()  # anything else: left to pydantic


def _shape_of(annotation: Any) -> _Shape:
    from pydantic import BaseModel

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _shape_of(args[0])
    if origin in (Union, types.UnionType):
        models = [a for a in args if a is not type(None)]
        return _shape_of(models[0]) if len(models) == 1 else _FREE  # Optional[X] is X; a real union: pydantic
    if origin in (list, set, frozenset, Sequence) and args:
        inner = _shape_of(args[0])
        return _Shape(items=inner) if inner is not _FREE else _FREE
    if origin in (dict, Mapping) and len(args) == 2:
        inner = _shape_of(args[1])
        return _Shape(values=inner) if inner is not _FREE else _FREE
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_shape(annotation)
    return _FREE


_building: set[type[Any]] = set()


@lru_cache(maxsize=256)
def _model_shape(model: type[BaseModel]) -> _Shape:
    if model.model_config.get("extra") != "forbid" or model.__pydantic_root_model__ or model in _building:
        return _FREE  # extra keys allowed, a root model, or a model that contains itself: pydantic judges
    _building.add(model)
    try:
        names: dict[str, _Shape] = {}
        for name, info in model.model_fields.items():
            names[name] = _shape_of(info.annotation)
            if info.alias:
                names[info.alias] = names[name]
        return _Shape(fields=names)
    finally:
        _building.discard(model)


def _drop_unknown(shape: _Shape, value: Any, prefix: str, unknown: _Unknown) -> Any:
    """`value` without the keys its model does not declare (each one counted in `unknown`)."""
    if shape is _FREE:
        return value
    if shape.fields is not None and isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            inner = shape.fields.get(key)
            if inner is None:
                unknown.add(f"{prefix}{key}")
            else:
                kept[key] = _drop_unknown(inner, item, f"{prefix}{key}.", unknown)
        return kept
    if shape.items is not None and isinstance(value, list):
        return [_drop_unknown(shape.items, item, f"{prefix}{i}.", unknown) for i, item in enumerate(value)]
    if shape.values is not None and isinstance(value, dict):
        return {key: _drop_unknown(shape.values, item, f"{prefix}{key}.", unknown) for key, item in value.items()}
    return value
