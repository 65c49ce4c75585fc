"""The same app, streamed: ``_HANDLER=streaming.handler`` on a Function URL whose
invoke mode is ``RESPONSE_STREAM`` (or an API Gateway REST API with response
streaming). Status, headers and cookies go first, then each chunk as the app sends it::

    aiolambda serve --task-root examples/fastapi streaming.handler --port 8080
    curl -N 'http://127.0.0.1:8080/lambda-url/countdown?start=3'
"""

from __future__ import annotations

from app import app

from aiolambda.asgi import ASGIHandler

handler = ASGIHandler(app, streaming=True)
