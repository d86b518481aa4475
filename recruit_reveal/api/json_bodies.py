"""Request bodies as JSON, read one way by every JSON route (/predict, /predict/batch,
/what-if, /invocations and /v2): which Content-Type is JSON, and parsing that speaks to
the client.

An integer literal too long for Python to convert (``sys.int_max_str_digits``) does not
fail the whole body here with advice about the server's configuration: it becomes a
:class:`TooLongNumber`, which the field's validation refuses by the field's name.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .http_errors import ApiError

JSON_TYPE = "application/json"
#: The body of /v2's binary tensor data extension (a JSON header, then raw bytes).
BINARY_TYPE = "application/octet-stream"
#: Digits Python converts to an int (4300 by default); a longer literal is a TooLongNumber.
_MAX_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 4300)() or 4300


class TooLongNumber:
    """An integer literal of more digits than any field accepts; shown as what was sent."""

    def __init__(self, digits: int):
        self.digits = digits

    def __str__(self) -> str:
        return f"a {self.digits:,}-digit number"

    __repr__ = __str__


def _int(text: str) -> int | TooLongNumber:
    digits = len(text.lstrip("-"))
    return TooLongNumber(digits) if digits > _MAX_DIGITS else int(text)


def loads(body: bytes, prefix: str = "") -> Any:
    """``body`` parsed as JSON; 400 naming the line and column when it is not JSON.

    ``prefix`` starts each message (``"body: "`` where the route's messages name fields
    that way)."""
    try:
        # NaN/Infinity literals parse to float here and are then refused by the per-field
        # validation, which can name the field; so are TooLongNumbers.
        return json.loads(body, parse_int=_int)
    except UnicodeDecodeError:
        message = "malformed JSON: the body is not UTF-8 text"
    except json.JSONDecodeError as exc:
        message = f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    except RecursionError:
        message = "malformed JSON: arrays or objects nested too deep"
    raise ApiError(400, prefix + message, field="body")


def require_json(content_type: str | None, *, also: tuple[str, ...] = ()) -> None:
    """415 for a body declared as anything but JSON (a form, text, CSV), or one of ``also``.

    A body without a Content-Type is read as JSON, as tritonclient sends it.
    """
    if not content_type or not content_type.strip():
        return
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == JSON_TYPE or mime.endswith("+json") or mime in also:
        return
    raise ApiError(415, f"Content-Type: {mime!r} is not JSON; send the body as {JSON_TYPE} "
                   "(with curl: -H 'Content-Type: application/json')", field="Content-Type")
