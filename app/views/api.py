"""JSON API for the printing company's systems (per-company bearer tokens; see /api/v1/openapi.json).

Every route is declared @public for the session layer and authenticates itself with
`Authorization: Bearer <token>`; POSTs are CSRF-exempt because no cookie is involved.
"""
from __future__ import annotations

import functools
from datetime import date, datetime

from quart import Blueprint, Response, g, jsonify, request

from .. import api_tokens, orders, paquetes, ratelimit
from ..audit import record_read
from ..auth import public
from ..config import ROOT
from ..edge import json_body
from ..queries import ordenes as q
from ..security import csrf_exempt
from ..status import TransitionError
from .ordenes import package_download

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI = ROOT / "app" / "openapi.json"


def _error(message: str, code: int, **headers):
    """A JSON error body {"error": message}."""
    return jsonify(error=message), code, headers


@bp.after_request
async def no_store(response: Response) -> Response:
    """API answers carry CURP and NSS: never kept by a browser or proxy cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


def bearer(view):
    """Authenticate the request by its bearer token (401 otherwise; 403 for an account without a company;
    429 over the per-address or per-token limit); sets g.api_user and g.empresa (its scope)."""
    @functools.wraps(view)
    async def wrapper(*args, **kwargs):
        """Check the limits and the token, then run the view."""
        await ratelimit.check("api_address", request.remote_addr or "")
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        found = await api_tokens.user_of(token) if token else None
        if found is None:
            return _error("Token ausente, inválido o revocado.", 401, **{"WWW-Authenticate": 'Bearer realm="api"'})
        g.api_user, g.empresa = found[0], q.scope_for("empresa", found[1])
        await ratelimit.check("api_token", api_tokens.digest(token)[:16])
        if g.empresa == q.NINGUNA:
            return _error(q.SIN_EMPRESA, 403)
        return await view(*args, **kwargs)
    return wrapper


def _iso(value):
    """Dates as ISO 8601 strings."""
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def _orden_json(o: dict, progreso: dict[str, int]) -> dict:
    """The public shape of an order."""
    return {"id": o["id"], "estado": o["estado"], "creada_en": _iso(o["creada_en"]),
            "en_impresion_en": _iso(o["en_impresion_en"]), "enviada_en": _iso(o["enviada_en"]),
            "recibida_en": _iso(o["recibida_en"]), "alumnos": o["alumnos"], "reimpresiones": o["reimpresiones"],
            "progreso": progreso, "paquete": f"/api/v1/ordenes/{o['id']}/paquete"}


async def _orden(orden_id: int) -> dict | None:
    """The order if the token's company may see it."""
    return await q.orden(orden_id, g.empresa)


@bp.route("/openapi.json")
@public
async def openapi():
    """The OpenAPI 3.1 description of this API."""
    return Response(OPENAPI.read_text(encoding="utf-8"), content_type="application/json")


@bp.route("/ordenes")
@public
@bearer
async def lista():
    """Every order visible to the company, newest first."""
    rows = await q.ordenes(g.empresa)
    prog = await q.progreso([r["id"] for r in rows])
    return jsonify(ordenes=[_orden_json(r, prog.get(r["id"], {})) for r in rows])


@bp.route("/ordenes/<id:orden_id>")
@public
@bearer
async def detalle(orden_id: int):
    """One order with its students (every printed field, reprint flag and reason)."""
    o = await _orden(orden_id)
    if o is None:
        return _error(f"No existe la orden de impresión {orden_id}.", 404)
    await record_read("orden_api", detalle=f"orden {orden_id}", usuario_id=g.api_user.id)
    items = [{"matricula": r["matricula"], "nombre": r["nombre"], "primer_apellido": r["primer_apellido"],
              "segundo_apellido": r["segundo_apellido"], "plantel": r["plantel"], "cct": r["cct"],
              "grupo": r["grupo"], "carrera": r["carrera"], "curp": r["curp"], "correo": r["correo"],
              "institucion_medica": r["institucion_medica"], "numero_afiliacion": r["numero_afiliacion"],
              "vigencia": _iso(r["vigencia"]), "estatus": r["estatus"], "reimpresion": r["reimpresion"],
              "motivo": r["motivo"]} for r in await q.items(orden_id)]
    prog = (await q.progreso([orden_id])).get(orden_id, {})
    paquete = paquetes.resumen(await paquetes.estado(orden_id))
    return jsonify({**_orden_json(o, prog), "paquete_estado": paquete, "items": items})


@bp.route("/ordenes/<id:orden_id>/paquete")
@public
@bearer
async def paquete(orden_id: int):
    """The order package (ZIP), streamed."""
    o = await _orden(orden_id)
    if o is None:
        return _error(f"No existe la orden de impresión {orden_id}.", 404)

    async def not_ready(message: str):
        """202 with the progress while the package is being built."""
        return _error(message, 202, **{"Retry-After": "10"})
    return await package_download(o, g.api_user.id, not_ready)


@bp.route("/ordenes/<id:orden_id>/estado", methods=["POST"])
@csrf_exempt
@public
@bearer
async def estado(orden_id: int):
    """Change the order's state: {"estado": "en_impresion"} or {"estado": "enviada"}."""
    if await _orden(orden_id) is None:
        return _error(f"No existe la orden de impresión {orden_id}.", 404)
    nuevo = (await json_body({"estado": str}))["estado"]
    if nuevo not in orders.MARCAS:
        return _error("«estado» debe ser «en_impresion» o «enviada».", 422)
    try:
        moved = await orders.marcar(orden_id, nuevo, g.api_user)
    except TransitionError as e:
        return _error(str(e), 409)
    o = await _orden(orden_id)
    prog = (await q.progreso([orden_id])).get(orden_id, {})
    return jsonify({**_orden_json(o, prog), "alumnos_actualizados": moved})


@bp.route("/reimpresiones")
@public
@bearer
async def reimpresiones():
    """Reprint requests: rejected cards waiting for a new order, with the reason."""
    rows = await q.reimpresiones(g.empresa)
    return jsonify(reimpresiones=[{"matricula": r["matricula"], "nombre": r["nombre"],
                                   "primer_apellido": r["primer_apellido"], "segundo_apellido": r["segundo_apellido"],
                                   "plantel": r["plantel"], "grupo": r["grupo"], "orden_anterior": r["orden_anterior"],
                                   "motivo": r["motivo"] or "", "desde": _iso(r["fecha_estatus"])} for r in rows])
