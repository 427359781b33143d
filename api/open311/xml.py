"""The spec's XML, written from the same documents as its JSON.

GeoReport v2 defines its JSON as the "Spark convention" mapping of its XML: a JSON array is an XML container
whose children all bear one name (`<services><service>…`), an object is an element with one child per key,
null an empty element. So each answer is built once, as JSON-ready data, and written here as XML by that
mapping in reverse; `CHILDREN` names the repeated child of each container the spec defines.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

CHILDREN: dict[str, str] = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

# XML 1.0 cannot carry C0 controls other than tab, newline and carriage return, surrogates, U+FFFE or U+FFFF.
# Stored text never holds them (intake refuses them), but an error may quote what a client sent.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def to_xml(root: str, document: object) -> bytes:
    """`document` (a JSON-ready value) as the spec's XML under `root`, with the UTF-8 declaration."""
    return DECLARATION + ET.tostring(_element(root, document), encoding="unicode").encode()


def _element(name: str, value: object) -> ET.Element:
    element = ET.Element(name)
    if isinstance(value, Mapping):
        for key, item in value.items():
            element.append(_element(str(key), item))
    elif isinstance(value, Sequence) and not isinstance(value, str):
        child = CHILDREN.get(name)
        if child is None:  # a programming error: every list the spec defines has a child name
            raise ValueError(f"no child element name for the list {name!r}")
        for item in value:
            element.append(_element(child, item))
    elif value is not None:
        element.text = _text(value)
    return element


def _text(value: object) -> str:
    if isinstance(value, bool):  # before str(): the spec spells them true / false
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))
