"""Installable PWA: manifest, service worker, offline page, outbox page, offline roster, health."""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets

from quart import Blueprint, Response, g, jsonify, render_template, url_for

from .. import db
from ..auth import public, roles
from ..config import ROOT
from ..security import csrf_token

bp = Blueprint("pwa", __name__)
STATIC = ROOT / "static"
SW_SOURCE = STATIC / "js" / "sw.js"
# Precached app shell: every static file except the worker itself, plus the offline page.
SHELL_EXCLUDE = {"js/sw.js"}
NAME = "Credencialización CONALEP Estado de México"


@functools.lru_cache(maxsize=1)
def shell() -> tuple[str, list[str]]:
    """(version, URLs) of the app shell; the version changes whenever a shell file changes."""
    files = sorted(p for p in STATIC.rglob("*") if p.is_file() and not p.name.startswith("LICENSE"))
    digest = hashlib.sha256()
    urls = ["/offline", "/manifest.webmanifest"]
    for path in files:
        rel = path.relative_to(STATIC).as_posix()
        if rel in SHELL_EXCLUDE:
            continue
        digest.update(rel.encode() + path.read_bytes())
        urls.append(f"/static/{rel}")
    digest.update(SW_SOURCE.read_bytes())
    return digest.hexdigest()[:12], urls


@bp.route("/salud")
@public
async def health():
    """JSON health: 200 when the database answers, 503 otherwise (the offline probe uses it)."""
    try:
        await db.fetch_val("SELECT 1")
    except Exception:  # noqa: BLE001 — any failure means "not healthy"
        return jsonify(ok=False, db=False), 503
    return jsonify(ok=True, db=True)


@bp.route("/sw.js")
@public
async def service_worker():
    """The service worker, versioned by the shell's content, never cached by HTTP."""
    version, urls = shell()
    body = SW_SOURCE.read_text().replace("__VERSION__", version).replace("__SHELL__", json.dumps(urls))
    return Response(body, headers={"Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache",
                                   "Service-Worker-Allowed": "/"})


@bp.route("/manifest.webmanifest")
@public
async def manifest():
    """The web app manifest (Spanish names, icons, standalone)."""
    icons = [{"src": url_for("static", filename=f"icons/icon-{s}.png"), "sizes": f"{s}x{s}", "type": "image/png"}
             for s in (192, 512)]
    icons.append({"src": url_for("static", filename="icons/icon-maskable-512.png"), "sizes": "512x512",
                  "type": "image/png", "purpose": "maskable"})
    data = {"name": NAME, "short_name": "Credencialización", "lang": "es-MX", "dir": "ltr",
            "description": "Credencialización de alumnos del CONALEP Estado de México",
            "start_url": "/", "scope": "/", "id": "/", "display": "standalone", "orientation": "any",
            "theme_color": "#00723f", "background_color": "#ffffff", "icons": icons}
    return Response(json.dumps(data, ensure_ascii=False),
                    headers={"Content-Type": "application/manifest+json", "Cache-Control": "no-cache"})


@bp.route("/offline")
@public
async def offline():
    """Shown by the service worker when a page is not available offline."""
    return await render_template("pwa/offline.html")


@bp.route("/pendientes")
@roles("plantel")
async def pendientes():
    """The outbox page: captures stored on this device and their state (filled by pendientes.js)."""
    return await render_template("pwa/pendientes.html")


@bp.route("/pwa/padron.json")
@roles("plantel")
async def padron():
    """The plantel's roster without photos, for offline look-up in "Toma de biométricos"."""
    rows = await db.fetch_all(
        """SELECT a.matricula, a.prematricula, a.curp, a.folio, a.nombre, a.primer_apellido, a.segundo_apellido,
                  p.nombre AS plantel, a.grupo, c.nombre AS carrera, a.correo, a.institucion_medica,
                  a.numero_afiliacion, a.estatus::text AS estatus
           FROM alumnos a JOIN planteles p ON p.id = a.plantel_id JOIN carreras c ON c.codigo = a.carrera_codigo
           WHERE a.plantel_id = :p ORDER BY a.matricula""",
        {"p": g.user.plantel_id},
    )
    from ..audit import record_read  # the whole roster (CURP, NSS, e-mail): audited like the Excel
    await record_read("padron_offline", plantel_id=g.user.plantel_id, detalle=f"{len(rows)} alumnos")
    return jsonify(user=g.user.id, plantel=g.user.plantel_nombre, alumnos=rows), 200, {"Cache-Control": "no-store"}


async def device_key(plantel_id: int) -> str:
    """The plantel's device key (AES-256, base64), created on first use."""
    key = await db.fetch_val(
        """WITH new AS (INSERT INTO claves_dispositivo (plantel_id, clave) VALUES (:p, :k)
                        ON CONFLICT (plantel_id) DO NOTHING RETURNING clave)
           SELECT clave FROM new UNION ALL SELECT clave FROM claves_dispositivo WHERE plantel_id = :p LIMIT 1""",
        {"p": plantel_id, "k": secrets.token_bytes(32)})
    return base64.b64encode(bytes(key)).decode()


@bp.route("/pwa/sesion")
@roles("plantel", "estatal", "empresa", "admin")
async def sesion():
    """Who is signed in, for the outbox and the service worker: user, plantel, this session's CSRF token,
    its expiry, and (plantel users) the key that unlocks this plantel's data kept on the device."""
    user = g.user
    expira = await db.fetch_val("SELECT expira_en FROM sesiones WHERE id = :s", {"s": user.session_id})
    llave = await device_key(user.plantel_id) if user.rol == "plantel" and user.plantel_id else None
    return jsonify(ok=True, app="credencializacion", user=user.id, email=user.email, rol=user.rol,
                   plantel_id=user.plantel_id, plantel=user.plantel_nombre, csrf=csrf_token(),
                   expira=expira.isoformat() if expira else None, llave=llave), 200, {"Cache-Control": "no-store"}
