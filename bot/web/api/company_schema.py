"""The REST schemas of a company, built from the company field model (:mod:`bot.brain.company_fields`).

Why built, not written out: the field model is the one list of company settings, so a new setting shows up in the
request and response schemas (and the OpenAPI document) without an edit here. The shapes are exactly those of the
hand-written models they replace: every setting optional on input (PATCH changes only what is sent), bounded at
the edge (lengths, control characters, ranges, choices); the output reports a secret as ``<name>_set``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from bot.brain.company_fields import COMPANY_FIELDS, CompanyField
from bot.web.fields import LIST_MAX, bounded_line, bounded_text

Language = Literal["de", "en"]
_NUMBER_KINDS: dict[str, type] = {"flag": bool, "int": int, "float": float}
_LINE_KINDS = {"line", "timezone", "bundesland", "hours", "email", "url", "secret", "phone", "voice", "time"}


def _input_type(f: CompanyField) -> tuple[Any, dict[str, Any]]:
    """(annotation, Field arguments) of one setting in a request body."""
    if f.kind in _LINE_KINDS:
        return bounded_line(f.max_len or 1000), {}
    if f.kind == "text":
        return bounded_text(f.max_len or 1000), {}
    if f.kind == "language":
        return Language, {}
    if f.kind == "languages":
        return list[Language], {"max_length": 2}
    if f.kind == "phones":
        return list[bounded_line(f.max_len or 64)], {"max_length": LIST_MAX}
    if f.kind == "flag":
        return bool, {}
    if f.kind == "int":
        return int, {"ge": f.ge, "le": f.le}
    if f.kind == "float":
        return float, {"ge": f.ge, "le": f.le, "allow_inf_nan": False}
    raise ValueError(f"company field {f.name!r}: no schema for kind {f.kind!r}")


def _output_type(f: CompanyField) -> Any:
    """The annotation of one setting in a response (None where a setting may be unset)."""
    if f.kind in ("languages", "phones"):
        return list[str]
    if f.kind in _NUMBER_KINDS:
        return _NUMBER_KINDS[f.kind]
    return str if f.required or f.default is not None else str | None


def _docs(f: CompanyField) -> dict[str, Any]:
    docs: dict[str, Any] = {}
    if f.example is not None:
        docs["examples"] = [f.example]
    if f.description:
        docs["description"] = f.description
    return docs


def company_schemas(fields: tuple[CompanyField, ...] = COMPANY_FIELDS
                    ) -> tuple[type[BaseModel], type[BaseModel], type[BaseModel]]:
    """(CompanyFields, CompanyCreate, CompanyOut) for ``fields``; tests pass a model with an extra setting."""
    inputs: dict[str, Any] = {}
    for f in fields:
        annotation, bounds = _input_type(f)
        inputs[f.name] = (annotation | None, Field(None, **bounds, **_docs(f)))
    company_fields = create_model("CompanyFields", __doc__="Company settings; on PATCH only the fields sent are "
                                  "changed.", **inputs)
    company_create = create_model("CompanyCreate", __base__=company_fields, slug=(str, Field(
        ..., max_length=64, examples=["praxis-berger"], description="Lower-case letters, digits, hyphens")))
    outputs: dict[str, Any] = {"id": (int, ...), "slug": (str, ...)}
    for f in fields:
        outputs[f.name if f.output else f"{f.name}_set"] = (_output_type(f) if f.output else bool, ...)
    outputs.update(created_at=(str | None, ...), updated_at=(str | None, ...))
    return company_fields, company_create, create_model("CompanyOut", **outputs)


CompanyFields, CompanyCreate, CompanyOut = company_schemas()
