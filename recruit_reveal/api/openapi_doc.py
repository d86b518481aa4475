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

#: One document is built at a time in the process: the ``{position}`` path parameter's
#: schema is shared by every app, and each app refreshes it to its own positions.
_LOCK = threading.Lock()


def install(app: FastAPI, store: ModelStore, parts: list[SpecSchema], max_batch: int) -> None:
    """Make ``app.openapi()`` follow the specs ``store`` serves.

    ``parts``: the app's schema parts that depend on the positions served (the routes'
    ``openapi_extra`` bodies, the ``{position}`` path parameter's schema).
    """
    generate = app.openapi
    built: dict[str, Any] = {"key": None}

    def openapi() -> dict[str, Any]:
        specs = store.specs()
        key = tuple((k, s.digest) for k, s in specs.items())
        with _LOCK:
            if app.openapi_schema is None or built["key"] != key:
                for part in parts:
                    part.refresh(specs)
                app.openapi_schema = None
                document = generate()
                _per_position_invocations(document, specs, max_batch)
                app.openapi_schema, built["key"] = document, key
            return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


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
