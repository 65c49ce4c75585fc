"""The benchmark's FastAPI app through Mangum (its default: lifespan on every call)."""

from asgi_app import app
from mangum import Mangum

handler = Mangum(app)
handler_no_lifespan = Mangum(app, lifespan="off")
