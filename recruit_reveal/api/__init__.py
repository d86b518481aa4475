"""The prediction API: app factory, settings, routers, request and response schemas, the model store."""
