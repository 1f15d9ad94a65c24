"""One blueprint per menu item of the manual (see app/menu.py)."""
from __future__ import annotations

from quart import render_template, request


def is_htmx() -> bool:
    """True for an htmx request (answer with the partial alone)."""
    return request.headers.get("HX-Request") == "true"


async def render(template: str, partial: str | None = None, **ctx) -> str:
    """Render the full page, or only its partial for htmx requests."""
    if partial and is_htmx():
        return await render_template(partial, **ctx)
    return await render_template(template, **ctx)

