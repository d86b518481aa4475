"""``Depends`` providers: settings and model store (on ``app.state``), bodies, paths, auth."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import AdminAuthError, SwitchDisabledError, UnknownPositionError
from ..settings import Settings
from .parsing import Athlete, parse_athlete, parse_batch, read_json
from .payloads import SpecSchema, position_path_schema
from .store import ModelStore

# The providers are ``async`` although they never wait: FastAPI runs a plain ``def``
# dependency in the thread pool, a thread hop per request that costs more than a
# whole /health/live answer.

async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> ModelStore:
    store: ModelStore = request.app.state.store
    return store


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[ModelStore, Depends(get_store)]


async def _athlete(request: Request, store: StoreDep) -> Athlete:
    return parse_athlete(await read_json(request), store.specs())


async def _athletes(request: Request, settings: SettingsDep, store: StoreDep) -> list[Athlete]:
    return parse_batch(await read_json(request), store.specs(), settings.max_batch)


#: The body of /predict: one athlete (declared in the OpenAPI by ``schemas.athlete_body``).
AthleteBody = Annotated[Athlete, Depends(_athlete)]
#: The body of /predict/batch: a list of athletes, or ``{"athletes": [...]}``.
AthletesBody = Annotated[list[Athlete], Depends(_athletes)]


#: The schema of a {position} path parameter: the positions served (refreshed by the app's
#: OpenAPI document as releases change).
POSITION_PATH_SCHEMA = SpecSchema(position_path_schema)


async def _position(position: Annotated[str, Path(json_schema_extra=POSITION_PATH_SCHEMA)],
                    store: StoreDep) -> str:
    pos = store.position_of(position)
    if pos is None:
        raise UnknownPositionError(f"unknown position {position!r} (expected one of "
                                   f"{', '.join(store.positions)})")
    return pos


#: A canonical position from a /models/{position} path; unknown: 404.
PositionPath = Annotated[str, Depends(_position)]

_bearer = HTTPBearer(auto_error=False, scheme_name="AdminToken",
                     description="Authorization: Bearer <ADMIN_TOKEN>")


async def require_admin(settings: SettingsDep, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """SwitchDisabledError while no ADMIN_TOKEN is configured; AdminAuthError without the
    right bearer token."""
    token = settings.admin_token
    if not token:
        raise SwitchDisabledError("switching is disabled: the server has no ADMIN_TOKEN "
                                  "configured")
    given = credentials.credentials.strip() if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise AdminAuthError("a valid 'Bearer <ADMIN_TOKEN>' header is required")
