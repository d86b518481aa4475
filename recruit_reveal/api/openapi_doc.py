"""/openapi.json from the positions served: every request schema is built from the specs of
the models the store holds, and rebuilt when a release changes them.

The routes are built once, with :class:`~.payloads.SpecSchema` parts (request bodies, the
``{position}`` path parameter) that hold a reference the document refreshes.  One route
serves ``/models/{position}/invocations`` for every position; the document lists it once
per position served, each with that position's record schema, as MLflow clients expect.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from ..catalog import PositionSpec
from .payloads import SpecSchema
from .protocol_payloads import invocations_body
from .routers.invocations import POSITION_INVOCATIONS
from .store import ModelStore


def install(app: FastAPI, store: ModelStore, specs_schemas: list[SpecSchema],
            max_batch: int) -> None:
    """Make ``app.openapi()`` follow the specs ``store`` serves.

    ``specs_schemas``: the schema parts outside the routes' own ``openapi_extra`` (such as
    the ``{position}`` path parameter's) to refresh as well.
    """
    generate = app.openapi
    lock = threading.Lock()
    built: dict[str, Any] = {"key": None}

    def openapi() -> dict[str, Any]:
        specs = store.specs()
        key = tuple((k, s.digest) for k, s in specs.items())
        with lock:
            if app.openapi_schema is None or built["key"] != key:
                for part in (*specs_schemas, *_route_parts(app)):
                    part.refresh(specs)
                app.openapi_schema = None
                document = generate()
                _per_position_invocations(document, specs, max_batch)
                app.openapi_schema, built["key"] = document, key
            return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _route_parts(app: FastAPI) -> list[SpecSchema]:
    return [extra for route in app.routes
            if isinstance(extra := getattr(route, "openapi_extra", None), SpecSchema)]


def _per_position_invocations(document: dict[str, Any], specs: Mapping[str, PositionSpec],
                              max_batch: int) -> None:
    """``/models/{position}/invocations`` as one path per position, each with its records."""
    paths = document.get("paths", {})
    template = paths.pop(POSITION_INVOCATIONS, None)
    if template is None:
        return
    for key, spec in specs.items():
        item = copy.deepcopy(template)
        post = item.get("post", {})
        post["parameters"] = [p for p in post.get("parameters", ()) if p.get("name") != "position"]
        if not post["parameters"]:
            del post["parameters"]
        post["operationId"] = f"invocations_{key}"
        post["summary"] = f"Invocations {key}"
        post.update(invocations_body(specs, spec, max_batch=max_batch))
        paths[POSITION_INVOCATIONS.replace("{position}", key)] = item
