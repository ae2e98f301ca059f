"""XML answers rendered from a response model's own JSON Schema and its OpenAPI `xml` annotations.

A model names its element (`xml.name`); a list is an element around one element per item
(`xml.wrapped`, the item named by `items.xml.name` or by its model's `xml.name`); an object's fields are
child elements in their declared order; None is an empty element, a boolean `true`/`false`. The
document (devtools/openapi.py) shows the same schema for `text/xml`, so what is documented is what is
rendered. The standard library builds the tree (xml.etree.ElementTree): text is escaped by it, never
assembled by hand. Loaded on the first XML answer, not at cold start.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from pydantic import BaseModel

Schema = dict[str, Any]


@cache
def _schema(model: type[BaseModel]) -> Schema:
    return model.model_json_schema(mode="serialization")


def render(model: BaseModel) -> str:
    """The answer as an XML document, declaration included (`<?xml version='1.0' encoding='utf-8'?>`)."""
    import xml.etree.ElementTree as ET

    schema = _schema(type(model))
    defs = schema.get("$defs", {})
    root = _resolve(schema, defs)
    name = _xml(schema, defs).get("name")
    if not name:
        raise ValueError(f"{type(model).__name__} names no XML element (json_schema_extra xml.name)")
    element = _build(name, root, model.model_dump(mode="json"), defs)
    document: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return document.decode("utf-8")


def _resolve(node: Schema, defs: Schema) -> Schema:
    """The schema a node stands for: through `$ref`s, and the non-null branch of an optional value."""
    while True:
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[1]]
        elif "anyOf" in node:
            options = [o for o in node["anyOf"] if o.get("type") != "null"]
            node = options[0]
        else:
            return node


def _xml(node: Schema, defs: Schema) -> Schema:
    """The node's XML object: its own, else the one of the schema it refers to."""
    if "xml" in node:
        xml: Schema = node["xml"]
        return xml
    if "$ref" in node or "anyOf" in node:
        resolved = _resolve(node, defs)
        if resolved is not node:
            return _xml(resolved, defs)
    return {}


def _build(name: str, node: Schema, value: Any, defs: Schema) -> Element:
    from xml.etree.ElementTree import Element

    element = Element(name)
    if value is None:
        return element
    node = _resolve(node, defs)
    if node.get("type") == "array":
        items = node["items"]
        item_name = _xml(items, defs).get("name", "item")
        for item in value:
            element.append(_build(item_name, items, item, defs))
    elif "properties" in node:
        for field, field_node in node["properties"].items():
            child_name = field_node.get("xml", {}).get("name", field)  # a field is named by itself
            element.append(_build(child_name, field_node, value.get(field), defs))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)
    return element
