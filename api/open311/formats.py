"""The two formats GeoReport v2 answers in, chosen by the resource's extension (`/services.xml`,
`/requests/{id}.json`), and the one way an answer is written in either."""

from __future__ import annotations

import json
from enum import StrEnum

from fastapi.responses import Response

from api.open311.xml import to_xml


class Format(StrEnum):
    JSON = "json"
    XML = "xml"


# As the spec gives them; discovery lists the same types.
MEDIA_TYPES: dict[Format, str] = {
    Format.XML: "text/xml; charset=utf-8",
    Format.JSON: "application/json; charset=utf-8",
}
# XML is the format the spec requires of every server: an answer whose format is unknown (an error about the
# extension itself, or a path without one) is written in it.
FALLBACK = Format.XML


def format_of(extension: str | None) -> Format | None:
    """The format an extension names, None for anything else."""
    try:
        return Format(extension) if extension is not None else None
    except ValueError:
        return None


def render(
    document: object,
    *,
    root: str,
    fmt: Format,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """`document` (JSON-ready) as JSON, or as XML under the element `root`."""
    if fmt is Format.JSON:
        # Not ASCII-escaped: the spec requires UTF-8 everywhere, and Chinese names stay readable.
        body = json.dumps(document, ensure_ascii=False, allow_nan=False).encode()
    else:
        body = to_xml(root, document)
    return Response(body, status_code=status, media_type=MEDIA_TYPES[fmt], headers=headers)
