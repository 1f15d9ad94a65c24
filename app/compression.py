"""gzip for text responses (pages, CSS, JS, JSON): the capture page must load fast on slow links."""
from __future__ import annotations

import gzip

from quart import request
from quart.wrappers.response import DataBody, FileBody

COMPRESSIBLE = ("text/", "application/javascript", "application/json", "application/manifest+json",
                "image/svg+xml")
MIN_BYTES = 1024


async def gzip_response(response):
    """after_request: gzip a buffered text body when the client accepts it."""
    if (response.status_code != 200 or not isinstance(response.response, (DataBody, FileBody))
            or "Content-Encoding" in response.headers
            or "gzip" not in request.headers.get("Accept-Encoding", "")
            or not (response.mimetype or "").startswith(COMPRESSIBLE)):
        return response
    body = await response.get_data()
    if len(body) < MIN_BYTES:
        return response
    response.set_data(gzip.compress(body, compresslevel=6))
    response.headers["Content-Encoding"] = "gzip"
    response.headers.add("Vary", "Accept-Encoding")
    return response
