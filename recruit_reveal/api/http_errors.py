"""Error answers: every problem with a request is a 4xx whose ``detail`` names the field.

The body is always ``{"detail": "...", "errors": [{"field", "message", ...}]}``
(:class:`~recruit_reveal.api.responses.ErrorResponse`); ``errors`` lists every
problem found, ``detail`` summarises the first.

The rest of the service raises the domain errors of :mod:`recruit_reveal.errors`;
:data:`STATUS` is the one place that says which HTTP status each of them is.  Only
the request parsing, which belongs to HTTP, raises :class:`ApiError` with a status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    AdminAuthError,
    ArtifactExistsError,
    ArtifactIntegrityError,
    ArtifactLockError,
    CatalogError,
    DataValidationError,
    IncompatibleModelError,
    ModelNotFoundError,
    ModelUnavailableError,
    NotebookExecutionError,
    PromotionError,
    RecordNotFoundError,
    RecruitRevealError,
    ReleaseError,
    SignatureError,
    SignatureMismatchError,
    SignatureMissingError,
    StorageError,
    SwitchDisabledError,
    TrainingError,
    UnknownPositionError,
    UnsignedFileError,
    UntrustedSignatureError,
    VersionError,
    VersionNotFoundError,
    VersionNotServableError,
)

#: Problems listed in one error response; the rest are counted.
MAX_PROBLEMS = 50

#: The HTTP status of every project error; a subclass not listed takes its nearest base's.
STATUS: dict[type[RecruitRevealError], int] = {
    RecruitRevealError: 400,
    DataValidationError: 400,
    VersionError: 400,
    TrainingError: 400,
    AdminAuthError: 401,
    SwitchDisabledError: 403,
    ModelNotFoundError: 404,
    UnknownPositionError: 404,
    VersionNotFoundError: 404,
    RecordNotFoundError: 404,
    ArtifactExistsError: 409,
    ArtifactIntegrityError: 409,
    ArtifactLockError: 409,
    IncompatibleModelError: 409,
    VersionNotServableError: 409,
    ReleaseError: 409,
    PromotionError: 409,
    # A version whose signature does not hold is never served: a conflict with VERIFY_KEY.
    SignatureError: 409,
    SignatureMissingError: 409,
    UntrustedSignatureError: 409,
    SignatureMismatchError: 409,
    UnsignedFileError: 409,
    NotebookExecutionError: 500,
    # The server's own CATALOG file is broken: nothing a request can fix.
    CatalogError: 500,
    ModelUnavailableError: 503,
    StorageError: 503,
}

#: Headers an error answer carries besides its body.
HEADERS: dict[type[RecruitRevealError], dict[str, str]] = {
    AdminAuthError: {"WWW-Authenticate": "Bearer"},
}


def status_of(exc: RecruitRevealError) -> int:
    """The HTTP status of ``exc``: that of its class, or of the nearest base in :data:`STATUS`."""
    return next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)


class ApiError(Exception):
    """A request problem answered with ``status`` and a message naming the field."""

    def __init__(self, status: int, message: str, *, field: str | None = None,
                 errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        if errors is None and field:
            text = message[len(field) + 2:] if message.startswith(f"{field}: ") else message
            errors = [{"field": field, "message": text}]
        self.errors = errors or []
        self.headers = headers


#: Routes of the Open Inference Protocol, whose errors are ``{"error": "..."}`` with 400
#: (not 422) for a bad request, as its clients (tritonclient, kserve) read them.
V2_PREFIX = "/v2"


def is_v2_path(path: str | None) -> bool:
    return path is not None and (path == V2_PREFIX or path.startswith(V2_PREFIX + "/"))


def error_response(status: int, message: str, errors: list[dict[str, Any]] | None = None,
                   headers: Mapping[str, str] | None = None, *,
                   path: str | None = None) -> JSONResponse:
    """The error answer; in the protocol's shape when ``path`` is a /v2 route."""
    if is_v2_path(path):
        return JSONResponse({"error": message}, status_code=400 if status == 422 else status,
                            headers=headers)
    return JSONResponse({"detail": message, "errors": errors or []}, status_code=status,
                        headers=headers)


def clean_message(err: Mapping[str, object], *, with_input: bool = True) -> str:
    """A pydantic error in words, with the value given (unless ``with_input`` is false)."""
    if err.get("type") == "missing":
        return "missing required field"
    msg = str(err.get("msg", "invalid value"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    # A message that already says what it got (our validators' do) says it once.
    if with_input and "input" in err and "got " not in msg:
        return f"{msg} (got {json.dumps(err['input'], default=str)})"
    return msg


def _parameter_message(err: Mapping[str, object]) -> str:
    loc = err.get("loc")
    parts = loc if isinstance(loc, tuple) else ()
    name = str(parts[-1]) if parts else "parameter"
    if err.get("type") == "missing" and parts[:1] == ("query",):
        return f"missing query parameter (?{name}=X.Y.Z)" if name == "version" \
            else f"missing query parameter ?{name}"
    # Our own validators (e.g. the version check) quote the value already.
    return clean_message(err, with_input=err.get("type") != "value_error")


def summary(problems: list[dict[str, Any]]) -> str:
    """``detail``: the first problem, its expectation, and how many more there are."""
    first = problems[0]
    text = f"{first['field']}: {first['message']}"
    if first.get("expected"):
        text += f" (expected {first['expected']})"
    if len(problems) > 1:
        text += f"; and {len(problems) - 1} more problem(s)"
    return text


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.errors, exc.headers, path=request.url.path)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        problems.append({"field": ".".join(loc) or "request", "message": _parameter_message(err)})
    return error_response(422, summary(problems) if problems else "invalid request", problems,
                          path=request.url.path)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail), [], exc.headers,
                          path=request.url.path)


def domain_error_response(exc: RecruitRevealError, path: str | None = None) -> JSONResponse:
    """The answer to a project error: its status from :data:`STATUS`, and the field it
    concerns (``exc.field``, when it has one) leading ``detail`` and named in ``errors``."""
    headers = next((HEADERS[cls] for cls in type(exc).__mro__ if cls in HEADERS), None)
    message = str(exc)
    field = getattr(exc, "field", None)
    if not field:
        return error_response(status_of(exc), message, [], headers, path=path)
    return error_response(status_of(exc), f"{field}: {message}",
                          [{"field": field, "message": message}], headers, path=path)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RecruitRevealError)
    return domain_error_response(exc, request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RecruitRevealError, _domain_error)


#: MLflow's ``error_code`` of each status the scoring protocol routes answer.
MLFLOW_ERROR_CODES: dict[int, str] = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "INVALID_STATE",
    413: "BAD_REQUEST",
    415: "BAD_REQUEST",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}


def mlflow_error(status: int, message: str, error_code: str | None = None) -> JSONResponse:
    """An answer in MLflow's error shape: ``{"error_code": ..., "message": ...}``."""
    code = error_code or MLFLOW_ERROR_CODES.get(status, "BAD_REQUEST")
    return JSONResponse({"error_code": code, "message": message}, status_code=status)


def mlflow_error_response(exc: Exception) -> JSONResponse | None:
    """The answer to ``exc`` in MLflow's error shape, or None when it is no request problem.

    As MLflow's scoring server: a body it cannot read is 400 ``BAD_REQUEST``; a value the
    model's schema refuses (the field is named first in ``message``) is 400
    ``INVALID_PARAMETER_VALUE``; statuses of project errors are those of :data:`STATUS`.
    """
    if isinstance(exc, ApiError):
        if exc.status == 422:
            return mlflow_error(400, exc.message, "INVALID_PARAMETER_VALUE")
        return mlflow_error(exc.status, exc.message)
    if isinstance(exc, RecruitRevealError):
        field = getattr(exc, "field", None)
        return mlflow_error(status_of(exc), f"{field}: {exc}" if field else str(exc))
    if isinstance(exc, RequestValidationError):
        problems = [{"field": ".".join(str(p) for p in err.get("loc", ())[1:]) or "request",
                     "message": _parameter_message(err)} for err in exc.errors()]
        return mlflow_error(400, summary(problems) if problems else "invalid request",
                            "INVALID_PARAMETER_VALUE")
    if isinstance(exc, StarletteHTTPException):
        return mlflow_error(exc.status_code, str(exc.detail))
    return None
