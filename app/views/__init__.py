"""One blueprint per menu item of the manual (see app/menu.py)."""
from __future__ import annotations

from quart import Blueprint, render_template, request


def is_htmx() -> bool:
    """True for an htmx request (answer with the partial alone)."""
    return request.headers.get("HX-Request") == "true"


async def render(template: str, partial: str | None = None, **ctx) -> str:
    """Render the full page, or only its partial for htmx requests."""
    if partial and is_htmx():
        return await render_template(partial, **ctx)
    return await render_template(template, **ctx)


def pending_blueprint(name: str, url: str, endpoint: str, title: str, issue: int) -> Blueprint:
    """A menu item not built yet: one page that says so honestly."""
    from ..auth import roles

    bp = Blueprint(name, __name__)

    @roles("*")
    async def page():
        """The "not available yet" page."""
        return await render_template("pending.html", title=title, issue=issue)

    bp.add_url_rule(url, endpoint, page)
    return bp
