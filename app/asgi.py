"""ASGI entry point for hypercorn: `hypercorn app.asgi:app`."""
from . import create_app

app = create_app()
