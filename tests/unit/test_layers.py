"""The layers point one way: handlers and services never touch pynamodb; the domain never touches AWS."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "chalicelib"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).glob("*.py"))


@pytest.mark.parametrize("path", _modules("services") + _modules("handlers"), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_services_and_handlers_do_not_import_pynamodb(path):
    assert not {n for n in _imports(path) if n.split(".")[0] in ("pynamodb", "botocore")}, (
        "DynamoDB mechanics live in chalicelib/models/: call a named access function"
    )


@pytest.mark.parametrize("path", _modules("domain"), ids=lambda p: p.name)
def test_the_domain_imports_no_aws_no_http_and_no_storage(path):
    forbidden = {"boto3", "botocore", "pynamodb", "chalice"}
    assert not {n for n in _imports(path) if n.split(".")[0] in forbidden}
    assert not {n for n in _imports(path) if n.startswith(("chalicelib.models", "chalicelib.services"))}


@pytest.mark.parametrize("path", _modules("services") + _modules("handlers"), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_services_and_handlers_use_no_pynamodb_mechanics(path):
    """Conditions, updates, counters and transactions are named functions of chalicelib/models: a service
    may build an item (`TicketModel(...)`) but never reach into a model class (`LampModel.open_tickets.add(1)`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    model_names = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chalicelib.models")
        for alias in node.names
        if alias.name.endswith("Model")
    }
    reached = [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in model_names
    ]
    conditions = [
        f"line {n.lineno}: condition=" for n in ast.walk(tree) if isinstance(n, ast.keyword) and n.arg == "condition"
    ]
    assert not reached + conditions
