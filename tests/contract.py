"""Checks answers against mobile_api_docs/openapi.yaml, so the document cannot drift from the code.

The functional and end-to-end suites pass every response through `check_response`: a status
the operation does not document, a content type it does not declare, or a body that does not
match its schema fails the test that received it.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

SPEC_PATH = (
    Path(__file__).resolve().parent.parent / "mobile_api_docs" / "openapi.yaml"
)  # as devtools/openapi.py writes it


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def _routes() -> list[tuple[re.Pattern[str], str, str, dict[str, Any]]]:
    routes = []
    for template, methods in spec()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
        for method, operation in methods.items():
            routes.append((pattern, method.upper(), template, operation))
    # Literal segments win over parameters, as in API Gateway: /lamps/import before /lamps/{id}.
    routes.sort(key=lambda r: r[2].count("{"))
    return routes


def operation_for(method: str, path: str) -> dict[str, Any] | None:
    bare = path.split("?", 1)[0]
    return next((op for pattern, m, _, op in _routes() if m == method.upper() and pattern.match(bare)), None)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and len(node) == 1 and node["$ref"].startswith("#/components/responses/"):
        node = spec()["components"]["responses"][node["$ref"].rsplit("/", 1)[1]]
    return node


@cache
def _validator(ref: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": ref, "components": spec()["components"]}, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def check_response(method: str, path: str, status: int, headers: dict[str, str], body: bytes | str | None) -> None:
    operation = operation_for(method, path)
    if operation is None:
        return  # no such route: tests of unknown paths check the error shape themselves
    name = f"{method.upper()} {path} ({operation['operationId']})"
    documented = operation["responses"]
    assert str(status) in documented, f"{name} answered {status}, which openapi.yaml does not document: {body!r:.300}"
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered.get("x-request-id"), f"{name} answered without X-Request-Id"
    content = _resolve(documented[str(status)]).get("content", {})
    if not content:  # a redirect (a browser's form post answered 303): nothing to check but its silence
        assert not body, f"{name} answered {status} with a body; openapi.yaml documents none"
        return
    media_type = lowered.get("content-type", "").split(";")[0].strip()
    assert media_type in content, f"{name} answered {status} as {media_type!r}; openapi.yaml declares {sorted(content)}"
    schema = content[media_type]["schema"]
    if media_type == "text/html":  # a page for a browser (Api.route(html=True))
        text = body.decode() if isinstance(body, bytes) else body or ""
        assert text.lower().startswith("<!doctype html>"), f"{name} answered {status} as text/html but not a page"
    if media_type == "application/json" and "$ref" in schema:
        payload = json.loads(body or b"null")
        errors = sorted(_validator(schema["$ref"]).iter_errors(payload), key=lambda e: list(e.absolute_path))
        assert not errors, f"{name} {status} does not match {schema['$ref']}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:5]
        )
    if media_type == "text/xml" and "$ref" in schema:  # another standard's XML (Api.route(dialect=...))
        _check_xml(name, status, body, schema["$ref"])


def _check_xml(name: str, status: int, body: bytes | str | None, ref: str) -> None:
    """An XML answer is read back through the schema's OpenAPI `xml` annotations (element names, wrapped
    lists) into the values they stand for, which must then match the schema like a JSON answer."""
    import xml.etree.ElementTree as ET

    text = body.decode() if isinstance(body, bytes) else body or ""
    assert text.startswith("<?xml") and "encoding='utf-8'" in text.split("?>", 1)[0].replace('"', "'").lower(), (
        f"{name} {status}: an XML answer starts with its declaration, encoding UTF-8"
    )
    root = ET.fromstring(text.encode("utf-8"))
    expected = _xml_name(_node({"$ref": ref}))
    assert root.tag == expected, f"{name} {status}: the root element is <{root.tag}>, {ref} names <{expected}>"
    payload = _from_xml(root, {"$ref": ref})
    errors = sorted(_validator(ref).iter_errors(payload), key=lambda e: list(e.absolute_path))
    assert not errors, f"{name} {status} (XML) does not match {ref}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:5]
    )


def _node(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = spec()["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _xml_name(node: dict[str, Any]) -> str | None:
    name: str | None = node.get("xml", {}).get("name")
    return name


def _from_xml(element: Any, node: dict[str, Any]) -> Any:
    """The value an element stands for under `node`: a wrapped list, an object, or a scalar of the schema's
    type; an empty element is null where the schema allows null."""
    options = node.get("anyOf")
    if options:
        nullable = any(o.get("type") == "null" for o in options)
        if nullable and len(element) == 0 and not (element.text or "").strip():
            return None
        node = next(o for o in options if o.get("type") != "null")
    node = _node(node)
    if node.get("type") == "array":
        item = node["items"]
        item_name = _xml_name(item) or _xml_name(_node(item))
        values = []
        for child in element:
            assert child.tag == item_name, f"<{element.tag}> holds <{child.tag}>, the schema names <{item_name}>"
            values.append(_from_xml(child, item))
        return values
    if "properties" in node:
        return {
            child.tag: _from_xml(child, node["properties"].get(child.tag, {})) for child in element
        }  # an undocumented element stays, for additionalProperties to refuse
    text = element.text or ""
    kind = node.get("type")
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        return text  # not a number: the schema says so
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def checked(client: Any) -> Any:
    """Makes a chalice.test.Client check every answer against the document."""
    http = client.http
    send = http.request

    def request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes | str = b"") -> Any:
        response = send(method, path, headers=headers, body=body)
        check_response(method, path, response.status_code, response.headers, response.body)
        return response

    http.request = request
    return client
