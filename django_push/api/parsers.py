"""The API's one parser: JSON, small, shallow, and made of text that can be stored and echoed back.

Every view of the device, inbox and preferences API parses its body with
:class:`SizeLimitedJSONParser`, which refuses, before any serializer sees the data:

* a body over :data:`MAX_BODY_BYTES` (413): registrations are a few hundred bytes;
* nesting deeper than :data:`MAX_JSON_DEPTH` (400), counted on the text before it is parsed, so the
  parser never recurses deeply whatever the interpreter's recursion limit (a RecursionError that
  still happens is a 400 too);
* a string (value or key) holding a lone surrogate (``"\\ud800"``) or NUL (400): no database stores
  them, and validation messages that quote the input could not be encoded in the response.
"""

from __future__ import annotations

import io
import re
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

MAX_BODY_BYTES = 16 * 1024
MAX_JSON_DEPTH = 32

# A JSON string (escapes included), or one bracket: strings are skipped, brackets counted.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The request body is larger than {MAX_BODY_BYTES} bytes."
    default_code = "request_too_large"


def json_depth(text: str) -> int:
    """How deeply the containers of a JSON text nest (0 for a scalar); brackets in strings don't count.

    Malformed text (an unterminated string) can only over-count, and is refused by the decoder anyway.
    """
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def has_unstorable_text(data: Any) -> bool:
    """True if any string in ``data`` (keys included) has a NUL or a lone surrogate. The decoder
    joins a valid surrogate pair into one character, so any surrogate left is a lone one."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class SizeLimitedJSONParser(JSONParser):
    """JSON, at most :data:`MAX_BODY_BYTES` and :data:`MAX_JSON_DEPTH` levels deep, text storable."""

    max_bytes = MAX_BODY_BYTES
    max_depth = MAX_JSON_DEPTH

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = stream.read(self.max_bytes + 1) if stream is not None else b""
        if len(body) > self.max_bytes:
            raise RequestTooLarge()
        # Counted on the text, decoded as the parser will decode it (a charset=utf-16 body too).
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = body.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if json_depth(text) > self.max_depth:
            raise ParseError(f"JSON nested deeper than {self.max_depth} levels.")
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON nested too deeply.") from None
        if has_unstorable_text(data):
            raise ParseError("The JSON text must be valid Unicode without NUL characters.")
        return data
