"""The prediction API: app factory, routers, request and response schemas, the model store.

``create_app()`` builds the FastAPI app and ``run()`` serves it (see :mod:`.app`).
"""

from .app import create_app, run

__all__ = ["create_app", "run"]
