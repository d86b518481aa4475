"""``Depends`` providers: settings and model store (on ``app.state``), bodies, paths, auth."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import AdminAuthError, SwitchDisabledError, UnknownPositionError
from ..schema import POSITIONS
from ..settings import Settings
from .parsing import Athlete, parse_athlete, parse_batch, read_json
from .payloads import POSITION_CASINGS, POSITION_PATH_SCHEMA
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


async def _athlete(request: Request) -> Athlete:
    return parse_athlete(await read_json(request))


async def _athletes(request: Request, settings: SettingsDep) -> list[Athlete]:
    return parse_batch(await read_json(request), settings.max_batch)


#: The body of /predict: one athlete (declared in the OpenAPI by ``schemas.athlete_body``).
AthleteBody = Annotated[Athlete, Depends(_athlete)]
#: The body of /predict/batch: a list of athletes, or ``{"athletes": [...]}``.
AthletesBody = Annotated[list[Athlete], Depends(_athletes)]


async def _position(position: Annotated[str, Path(json_schema_extra=POSITION_PATH_SCHEMA)]
                    ) -> str:
    pos = POSITION_CASINGS.get(position)
    if pos is None:
        raise UnknownPositionError(f"unknown position {position!r} (expected one of "
                                   f"{', '.join(POSITIONS)})")
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
