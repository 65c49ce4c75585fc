"""``apps.streamed.handler``: the test app, every answer an ``aiolambda.StreamingResponse``."""

from aiolambda.asgi import ASGIHandler

from .api import app

handler = ASGIHandler(app, streaming=True)
