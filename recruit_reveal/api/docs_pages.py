"""/docs (Swagger UI) and /redoc (ReDoc) with their assets served by the app itself.

FastAPI's own pages load Swagger UI, ReDoc and ReDoc's fonts from public CDNs, so on a
machine without internet they are blank.  Here the pages are FastAPI's (the same HTML
builders) but every script and stylesheet comes from :data:`ASSETS_PATH`, a copy packaged
by ``fastapi-offline`` (Swagger UI's bundle and CSS, ReDoc's standalone build), and ReDoc
is asked not to load Google Fonts: the pages need no network beyond this service.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
#: Where the packaged assets are served.
ASSETS_PATH = "/docs-assets"


def assets_folder() -> str:
    """The folder of the packaged Swagger UI and ReDoc builds (fastapi-offline's)."""
    return str(resources.files("fastapi_offline") / "static")


def install(app: FastAPI) -> None:
    """Serve /docs, /redoc and their assets on ``app`` (built with ``docs_url=None`` and
    ``redoc_url=None``, so FastAPI's CDN pages are not there)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_folder()), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_PATH}",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters)

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png", with_google_fonts=False)
