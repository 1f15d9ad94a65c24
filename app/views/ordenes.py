"""Órdenes de impresión: create (estatal), print and ship (empresa), receive (estatal), tracking."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from quart import Blueprint, Response, abort, g, redirect, request, url_for

from .. import orders, paquetes
from ..audit import record_read
from ..auth import roles
from ..edge import form_ints, query_int
from ..package import package_name
from ..queries import ordenes as q
from ..queries import tablero as tablero_q  # Conciliación de órdenes (issue 15)
from ..status import ESTATUS, LABEL, TransitionError
from . import is_htmx, render

bp = Blueprint("ordenes", __name__, url_prefix="/ordenes")
TZ = ZoneInfo("America/Mexico_City")
ITEMS_PAGE = 100
MAX_PAGE = 10_000  # 1,000,000 students: more than any order holds
# the statuses a student of an order can be in (its progress columns), in report order
ORDER_STATUSES = tuple(s for s in ESTATUS if s in {"solicitado", "rechazado", "retoma", "imprimiendo", "recibido",
                                                  "entregado"})


async def _scope() -> int | None:
    """The orders the user may see (None: every order; a company user: its company's only)."""
    return await orders.scope_of(g.user)


async def _orden_or_404(orden_id: int) -> dict:
    """The order if the user may see it."""
    row = await q.orden(orden_id, await _scope())
    if row is None:
        abort(404)
    return row


@bp.route("")
@roles("estatal", "empresa", "admin")
async def lista():
    """Every visible order with its progress, and the reprint requests."""
    scope = await _scope()
    rows = await q.ordenes(scope)
    return await render("ordenes/lista.html", ordenes=rows, progreso=await q.progreso([r["id"] for r in rows]),
                        reimpresiones=await q.reimpresiones(scope), estado_label=orders.ESTADO_LABEL,
                        estatus=ESTATUS, label=LABEL, creada=query_int("creada", None, 0),
                        aviso=q.SIN_EMPRESA if scope == q.NINGUNA else "")


@bp.route("/nueva")
@roles("estatal")
async def nueva():
    """Choose planteles: their Validado and Rechazado students not yet in an open order."""
    return await render("ordenes/nueva.html", candidatos=await q.candidatos(), empresas=await q.empresas(),
                        elegidos=set(), reimpresiones=True, error="")


def _selection(form) -> tuple[list[int], bool, int | None]:
    """Chosen planteles, whether reprints go in, and the company, from the form."""
    empresa = form.get("empresa", 0 if form.get("empresa") else None, type=int)  # malformed → 0: no such company
    return sorted(set(form_ints(form, "plantel"))), form.get("reimpresiones") == "1", empresa


async def _summary(ids: list[int], reimp: bool) -> dict:
    """The counts the user confirms: new cards, reprints and total, per plantel."""
    rows = [c for c in await q.candidatos() if c["plantel_id"] in ids]
    for r in rows:
        r["incluidos"] = r["validados"] + (r["rechazados"] if reimp else 0)
    return {"filas": rows, "validados": sum(r["validados"] for r in rows),
            "rechazados": sum(r["rechazados"] for r in rows) if reimp else 0,
            "total": sum(r["incluidos"] for r in rows)}


@bp.route("/nueva/revisar", methods=["POST"])
@roles("estatal")
async def revisar():
    """The counts before confirming."""
    ids, reimp, empresa = _selection(await request.form)
    resumen = await _summary(ids, reimp)
    empresas = {e["id"]: e["nombre"] for e in await q.empresas()}
    msg = ("Elija al menos un plantel." if not ids else
           "Los planteles elegidos no tienen alumnos para imprimir." if resumen["total"] == 0 else
           "La empresa de impresión elegida no existe; elija otra." if empresa is not None and empresa not in empresas
           else "")
    if msg:
        return await render("ordenes/nueva.html", candidatos=await q.candidatos(), empresas=await q.empresas(),
                            elegidos=set(ids), reimpresiones=reimp, error=msg), 422
    return await render("ordenes/revisar.html", resumen=resumen, ids=ids, reimpresiones=reimp, empresa=empresa,
                        empresas=empresas)


@bp.route("/nueva", methods=["POST"])
@roles("estatal")
async def crear():
    """Confirm: create the order (students → Solicitado)."""
    form = await request.form
    ids, reimp, empresa = _selection(form)
    try:
        res = await orders.crear(g.user, ids, reimp, empresa, form.get("esperados", type=int))
    except TransitionError as e:
        return await render("ordenes/nueva.html", candidatos=await q.candidatos(), empresas=await q.empresas(),
                            elegidos=set(ids), reimpresiones=reimp, error=str(e)), 409
    return redirect(url_for("ordenes.detalle", orden_id=res.orden_id, creada=res.alumnos,
                            esperados=res.esperados or ""))


async def _detalle_page(orden: dict, pagina: int = 1, error: str = "", code: int = 200):
    """One order: state, milestones, progress, its students (paged) and the allowed actions."""
    rows = await q.items(orden["id"], limit=ITEMS_PAGE, offset=(pagina - 1) * ITEMS_PAGE)
    return await render("ordenes/detalle.html", o=orden, items=rows, pagina=pagina,
                        paginas=max(1, -(-orden["alumnos"] // ITEMS_PAGE)),
                        progreso=(await q.progreso([orden["id"]])).get(orden["id"], {}), estatus=ESTATUS,
                        label=LABEL, estado_label=orders.ESTADO_LABEL, creada=query_int("creada", None, 0),
                        esperados=query_int("esperados", None, 0), error=error,
                        conciliacion=await tablero_q.conciliacion(TZ, orden["id"]),
                        paquete=paquetes.resumen(await paquetes.estado(orden["id"]))), code


@bp.route("/<id:orden_id>")
@roles("estatal", "empresa", "admin")
async def detalle(orden_id: int):
    """The order page."""
    return await _detalle_page(await _orden_or_404(orden_id), query_int("pagina", 1, 1, MAX_PAGE))


@bp.route("/<id:orden_id>/estado", methods=["POST"])
@roles("estatal", "empresa")
async def marcar(orden_id: int):
    """Marcar "en impresión" or "enviada"."""
    await _orden_or_404(orden_id)
    try:
        await orders.marcar(orden_id, (await request.form).get("estado", ""), g.user)
    except TransitionError as e:
        return await _detalle_page(await _orden_or_404(orden_id), error=str(e), code=409)
    return redirect(url_for("ordenes.detalle", orden_id=orden_id))


@bp.route("/<id:orden_id>/paquete.zip")
@roles("estatal", "empresa", "admin")
async def paquete(orden_id: int):
    """The order package (ZIP: manifest CSV + XLSX, photos, signatures, CR80 PDF), streamed once built."""
    orden = await _orden_or_404(orden_id)

    async def not_ready(message: str) -> Response:
        """The order page with the progress while the package is being built."""
        page, _ = await _detalle_page(orden, error=message)
        return Response(page, 202, {"Retry-After": "10"})
    return await package_download(orden, g.user.id, not_ready)


async def package_download(orden: dict, usuario_id: int, not_ready) -> Response:
    """Stream the stored package (Range requests too) and audit the download; not_ready(message) before it is
    built (app/paquetes.py: built in the background, rebuilt when the order changed)."""
    p = await paquetes.estado(orden["id"])
    if not paquetes.listo(p):
        return await not_ready(paquetes.preparando(p))
    span = paquetes.rango(request.headers.get("Range"), p["tamano"])
    if span is None:
        return Response("Rango no válido para el paquete.", 416, {"Content-Range": f"bytes */{p['tamano']}"})
    await record_read("paquete_orden", detalle=f"orden {orden['id']}", usuario_id=usuario_id)
    headers = {"Content-Type": "application/zip", "Cache-Control": "no-store", "Accept-Ranges": "bytes",
               "Content-Length": str(span[1] - span[0]), "ETag": f'"{p["lista_huella"]}"',
               "Content-Disposition": f'attachment; filename="{package_name(orden)}"'}
    partial = request.headers.get("Range") is not None
    if partial:
        headers["Content-Range"] = f"bytes {span[0]}-{span[1] - 1}/{p['tamano']}"
    response = Response(paquetes.stream(p, *span), 206 if partial else 200, headers)
    response.timeout = None  # a large package over a slow link takes longer than Quart's 60 s default
    return response


# ---- reception (estatal) ---------------------------------------------------------------

async def _recepcion_ctx(orden_id: int, **extra) -> dict:
    """What the reception page shows: pending cards, counts and the last result."""
    orden = await _orden_or_404(orden_id)
    pendientes = [r for r in await q.items(orden_id, "imprimiendo") if r["abierto"]]
    return {"o": orden, "pendientes": pendientes, "progreso": (await q.progreso([orden_id])).get(orden_id, {}),
            "estado_label": orders.ESTADO_LABEL, "label": LABEL, "estatus": ESTATUS,
            "ok": "", "error": "", "matricula": "", **extra}


async def _recepcion(orden_id: int, code: int = 200, **extra):
    """The reception page, or its live part for htmx."""
    ctx = await _recepcion_ctx(orden_id, **extra)
    return await render("ordenes/recepcion.html", "ordenes/_recepcion.html", **ctx), code


async def _refused(orden_id: int, e: TransitionError, **extra):
    """The reception page with the refusal (htmx swaps only 2xx answers, so those get 200)."""
    return await _recepcion(orden_id, 200 if is_htmx() else 409, error=str(e), **extra)


@bp.route("/<id:orden_id>/recepcion")
@roles("estatal")
async def recepcion(orden_id: int):
    """Recibir orden: all at once, or card by card by scanning each matrícula."""
    return await _recepcion(orden_id)


@bp.route("/<id:orden_id>/recepcion/escanear", methods=["POST"])
@roles("estatal")
async def escanear(orden_id: int):
    """One scanned (or typed) matrícula → Recibido."""
    await _orden_or_404(orden_id)
    m = (await request.form).get("matricula", "")
    try:
        it = await orders.recibir_matricula(orden_id, m, g.user)
    except TransitionError as e:
        return await _refused(orden_id, e, matricula=m)
    return await _recepcion(orden_id, ok=f"Recibida: {it['matricula']} — {it['primer_apellido']} "
                                         f"{it['segundo_apellido']} {it['nombre']}.")


@bp.route("/<id:orden_id>/recepcion/todas", methods=["POST"])
@roles("estatal")
async def recibir_todas(orden_id: int):
    """Every pending card of the order → Recibido."""
    await _orden_or_404(orden_id)
    try:
        n = await orders.recibir_todas(orden_id, g.user)
    except TransitionError as e:
        return await _refused(orden_id, e)
    return await _recepcion(orden_id, ok=f"Se recibieron {n} credenciales.")


@bp.route("/<id:orden_id>/recepcion/rechazar", methods=["POST"])
@roles("estatal")
async def rechazar(orden_id: int):
    """A missing or defective card → Rechazado with a comment."""
    await _orden_or_404(orden_id)
    form = await request.form
    try:
        it = await orders.rechazar_recepcion(orden_id, form.get("matricula", ""), form.get("comentario", ""), g.user)
    except TransitionError as e:
        return await _refused(orden_id, e, matricula=form.get("matricula", ""))
    return await _recepcion(orden_id, ok=f"Rechazada: {it['matricula']} ({form.get('comentario', '').strip()}).")


# ---- tracking (estatal) ----------------------------------------------------------------

@bp.route("/seguimiento")
@roles("estatal", "admin")
async def seguimiento():
    """Seguimiento: each order's progress and the students waiting in each status per plantel."""
    rows = await q.ordenes(None)
    return await render("ordenes/seguimiento.html", ordenes=rows, progreso=await q.progreso([r["id"] for r in rows]),
                        espera=await q.espera_por_plantel(), columnas=q.ESPERA, estatus=ORDER_STATUSES, label=LABEL,
                        estado_label=orders.ESTADO_LABEL, conciliacion=await tablero_q.conciliacion(TZ))


@bp.route("/seguimiento/espera")
@roles("estatal", "admin")
async def espera():
    """The students of one plantel waiting in one status, longest waiting first."""
    plantel = query_int("plantel")
    est = request.args.get("estatus", "")
    if plantel is None or est not in dict(q.ESPERA):
        abort(404)
    rows = await q.en_espera(plantel, est)
    nombre = next((r["plantel"] for r in await q.espera_por_plantel() if r["plantel_id"] == plantel), "")
    return await render("ordenes/espera.html", rows=rows, plantel=nombre, est=est, que=dict(q.ESPERA)[est],
                        label=LABEL)
