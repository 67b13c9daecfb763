"""The field types every v1 request model is built from, and the base classes of request and response models.

Requests are validated strictly (no `true` for an integer, no `"5"` for a number, no unknown
fields, no NaN), and text is checked at the boundary: valid Unicode, no control or bidi-override
characters, NFC-normalised, bounded length. A value outside these rules is a 422 naming the field.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from sora_lab.core.limits import MAX_CAMEOS, MAX_PROMPT_CHARS

MAX_BODY_BYTES = 16 * 1024 * 1024
"""A request body larger than this is refused with 413 before it is parsed."""

MAX_UPLOAD_CHARS = MAX_BODY_BYTES - 64 * 1024
"""Longest base64 upload (about 12 MiB of file) that still fits in one body beside its other fields."""

_FORBIDDEN = (
    {chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"}
    | {chr(0x7F)}
    | {chr(c) for c in range(0x80, 0xA0)}
    | set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
"""C0/C1 control characters (tab and newlines excepted) and the bidi overrides that reorder what a reader sees."""


def clean_text(value: str) -> str:
    """Valid Unicode (no lone surrogates), no control or bidi-override characters, NFC."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text (it holds a lone surrogate)") from None
    bad = next((ch for ch in value if ch in _FORBIDDEN), None)
    if bad is not None:
        raise ValueError(f"holds the control character U+{ord(bad):04X}; send plain text")
    return unicodedata.normalize("NFC", value)


def Text(max_length: int, *, min_length: int = 0, pattern: str | None = None) -> Any:  # noqa: N802 (a type)
    """A string field of at most `max_length` characters, checked by `clean_text`."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length, pattern=pattern),
        AfterValidator(clean_text),
    ]


def _decode_base64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64: use the standard alphabet (A-Z a-z 0-9 + /) with '=' padding") from None


Base64File = Annotated[
    str,
    StringConstraints(max_length=MAX_UPLOAD_CHARS),
    AfterValidator(_decode_base64),
    WithJsonSchema(
        {
            "type": "string",
            "contentEncoding": "base64",
            "maxLength": MAX_UPLOAD_CHARS,
            "description": "the file's bytes, base64 (standard alphabet, padded); about 12 MiB at most",
        }
    ),
]
"""An uploaded file as a base64 string in JSON, decoded to bytes; invalid base64 is a 422 naming the field."""

Handle = Text(31, min_length=2, pattern=r"^@?[A-Za-z0-9][A-Za-z0-9_.]{1,29}$")
"""A user or cameo handle, with or without '@' ('maya', '@maya.dog')."""
Id = Text(80, min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")
"""An id the lab made (video, job, user, policy, challenge)."""
Region = Text(2, min_length=2, pattern=r"^[A-Za-z]{2}$")
Prompt = Text(MAX_PROMPT_CHARS, min_length=1)
CameoHandle = Text(62, min_length=2, pattern=r"^@?[A-Za-z0-9][A-Za-z0-9_.]{1,29}(/[A-Za-z0-9][A-Za-z0-9_.]{1,29})?$")
"""A cameo: its owner's handle for a person ('maya'), 'owner/name' for a character ('maya/toy'), or its id."""
CameoHandles = Annotated[list[CameoHandle], Field(max_length=MAX_CAMEOS)]
Names = Annotated[list[Text(200, min_length=1)], Field(max_length=50)]
Day = Text(10, pattern=r"^\d{4}-\d{2}-\d{2}$")
Seed = Annotated[int, Field(ge=0, lt=2**63)]


def example(value: dict) -> ConfigDict:
    """A model's config with one example value, shown by /docs and /redoc."""
    return ConfigDict(json_schema_extra={"examples": [value]})


class Request(BaseModel):
    """A request body: strict types, unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class Reply(BaseModel):
    """A response body: the fields listed are what the API promises."""


class OpenReply(BaseModel):
    """A response body whose listed fields are promised and whose other fields may grow between releases
    (reports, metrics): clients should read what they know and ignore the rest."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    code: str = Field(
        examples=["invalid_input"],
        description="stable, machine-readable: invalid_input, "
        "unauthorized, forbidden, not_found, conflict, policy_violation, consent_required, "
        "limit_exceeded, body_too_large, internal_error, ...",
    )
    message: str = Field(
        examples=["limit: Input should be less than or equal to 50"],
        description="for a person: what was wrong and how to fix it",
    )
    field: str | None = Field(None, examples=["limit"], description="the request field at fault, when one is")
    reasons: list[dict[str, Any]] | None = Field(None, description="policy_violation only: each rule that refused")
    id: str | None = Field(None, description="internal_error only: quote it to the operator (the server log has it)")


class ErrorBody(BaseModel):
    """Every failure has this one shape."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "invalid_input",
                        "message": "limit: Input should be less than or equal to 50",
                        "field": "limit",
                    }
                }
            ]
        }
    )

    error: ErrorDetail
