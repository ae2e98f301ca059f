"""Constrained value types shared by requests, responses and the domain (pydantic annotations)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

Id = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
RequiredNote = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Level = Annotated[int, Field(ge=1, le=4, description="1 blue, 2 yellow, 3 orange, 4 red (DOMAIN's fault levels)")]
