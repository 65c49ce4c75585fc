"""The benchmark's FastAPI app through ``aiolambda.asgi.ASGIHandler``."""

from asgi_app import app

from aiolambda.asgi import ASGIHandler

handler = ASGIHandler(app)
