"""``apps.buffered.handler``: the test app, answers buffered in each event source's shape."""

from aiolambda.asgi import ASGIHandler

from .api import app

handler = ASGIHandler(app)
