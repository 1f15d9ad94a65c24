"""Administración → Usuarios: list, Nuevo usuario, edit, Desactivar / Reactivar, Enviar enlace, Desbloquear,
Importar usuarios. The rules are in app/usuarios.py; every change is logged before → after."""
from __future__ import annotations

import tempfile
from pathlib import Path

from quart import abort, current_app, g, redirect, request, url_for

from ... import db, usuarios as rules
from ...auth import ROLES, roles
from ...catalogos import clean
from ...edge import query_int
from ...queries import usuarios as q
from ...roster import RosterError, read_rows
from .. import render
from . import bp
from .catalogos import log_change

PAGE = 25


def limits() -> dict:
    """The throttle's window, and when an address is held back (a delay or the lock applies), for «bloqueado»."""
    s = current_app.config["SETTINGS"]
    return {"mins": s.login_window_minutes, "limit": s.login_free_failures + 1, "sin": rules.NO_PASSWORD}


def _filters(args) -> dict:
    """The list's filters from the query string (bad values are ignored)."""
    f = {"q": clean(args.get("q", ""))[:80]}
    f["rol"] = args.get("rol") if args.get("rol") in ROLES else None
    f["plantel"], f["empresa"] = query_int("plantel"), query_int("empresa")
    f["activo"] = {"1": True, "0": False}.get(args.get("activo", ""))
    return f


@bp.route("/usuarios")
@roles("admin")
async def usuarios():
    """Accounts with search, filters and pages."""
    f = _filters(request.args)
    page = query_int("pagina", 1, hi=100_000)
    rows, total = await q.listing(f, limits(), page, PAGE)
    args = {k: v for k, v in request.args.items() if k != "pagina"}
    return await render("admin/usuarios.html", rows=rows, total=total, page=page, pages=max(1, -(-total // PAGE)),
                        f=f, args=args, roles=ROLES, rol_label=rules.ROL_LABEL, aviso=request.args.get("aviso", ""),
                        **await q.choices())


async def user_form(form: rules.UserForm, user: dict | None, status: int = 200, link: str | None = None):
    """The new/edit page of an account."""
    return await render("admin/usuario.html", form=form, user=user, roles=ROLES, rol_label=rules.ROL_LABEL,
                        link=link, **await q.choices()), status


@bp.route("/usuarios/nuevo", methods=["GET", "POST"])
@roles("admin")
async def nuevo_usuario():
    """Nuevo usuario: the account has no password until the activation link is used."""
    if request.method == "GET":
        return await user_form(rules.UserForm(), None)
    form = await rules.read_form(await request.form, creating=True)
    if not form.errors and await q.by_email(form.email):
        form.errors["email"] = "Ya existe una cuenta con ese correo."
    if form.errors:
        return await user_form(form, None, 422)
    async with db.get_db().transaction():
        user_id = await q.insert(form, rules.NO_PASSWORD)
        link = await rules.send_link(user_id, form.email, activation=True)
        user = await q.one(user_id, limits())
        await log_change("usuarios", form.email, "crear", None, _public(user))
    if link:  # no SMTP: shown once, to hand over
        return await user_form(form, user, 201, link)
    return redirect(url_for("admin.usuarios", aviso=f"Se creó {form.email}; se le envió el enlace de activación."), 303)


def _public(user: dict | None) -> dict | None:
    """What the change log keeps of an account (never a hash)."""
    keys = ("email", "nombre", "rol", "plantel_id", "empresa_id", "activo")
    return {k: user[k] for k in keys} if user else None


async def target(usuario_id: int) -> dict:
    """The account of a URL, or 404."""
    user = await q.one(usuario_id, limits())
    if user is None:
        abort(404)
    return user


@bp.route("/usuarios/<id:usuario_id>", methods=["GET", "POST"])
@roles("admin")
async def usuario(usuario_id: int):
    """Edit nombre, rol, plantel, empresa (the e-mail is the account's identity and stays)."""
    user = await target(usuario_id)
    if request.method == "GET":
        return await user_form(rules.UserForm(user["email"], user["nombre"], user["rol"], user["plantel_id"],
                                              user["empresa_id"]), user)
    form = await rules.read_form(await request.form, creating=False)
    form.email = user["email"]
    if form.errors:
        return await user_form(form, user, 422)
    try:
        async with db.get_db().transaction():
            await rules.lock_admins()
            await rules.check_admin_removal(user, g.user.id, form.rol, user["activo"])
            await q.update(usuario_id, form)
            if (form.rol, form.plantel_id, form.empresa_id) != (user["rol"], user["plantel_id"], user["empresa_id"]):
                await q.end_sessions(usuario_id)
            await log_change("usuarios", user["email"], "editar", _public(user), _public(await q.one(usuario_id, limits())))
    except rules.UserRuleError as e:
        form.errors.update(e.errors)
        return await user_form(form, user, 409)
    return redirect(url_for("admin.usuarios", aviso=f"Se guardaron los cambios de {user['email']}."), 303)


@bp.route("/usuarios/<id:usuario_id>/estado", methods=["POST"])
@roles("admin")
async def estado_usuario(usuario_id: int):
    """Desactivar (every session ends now) or Reactivar."""
    user = await target(usuario_id)
    active = (await request.form).get("activo") == "1"
    try:
        async with db.get_db().transaction():
            await rules.lock_admins()
            await rules.check_admin_removal(user, g.user.id, user["rol"], active)
            await q.set_active(usuario_id, active)
            await log_change("usuarios", user["email"], "reactivar" if active else "desactivar", _public(user),
                             {**_public(user), "activo": active})
    except rules.UserRuleError as e:
        form = rules.UserForm(user["email"], user["nombre"], user["rol"], user["plantel_id"], user["empresa_id"], e.errors)
        return await user_form(form, user, 409)
    verb = "se reactivó" if active else "se desactivó; sus sesiones terminaron"
    return redirect(url_for("admin.usuarios", aviso=f"{user['email']} {verb}."), 303)


@bp.route("/usuarios/<id:usuario_id>/enlace", methods=["POST"])
@roles("admin")
async def enlace_usuario(usuario_id: int):
    """Enviar enlace para restablecer contraseña (activation when the account has none yet)."""
    user = await target(usuario_id)
    if not user["activo"]:
        form = rules.UserForm(user["email"], user["nombre"], user["rol"], user["plantel_id"], user["empresa_id"],
                              {"_": "La cuenta está desactivada: reactívela antes de enviar un enlace."})
        return await user_form(form, user, 409)
    async with db.get_db().transaction():
        link = await rules.send_link(usuario_id, user["email"], activation=user["sin_activar"])
        await log_change("usuarios", user["email"], "enviar_enlace", None, None)
    if link:
        form = rules.UserForm(user["email"], user["nombre"], user["rol"], user["plantel_id"], user["empresa_id"])
        return await user_form(form, user, 200, link)
    return redirect(url_for("admin.usuarios", aviso=f"Se envió el enlace a {user['email']}."), 303)


@bp.route("/usuarios/<id:usuario_id>/desbloquear", methods=["POST"])
@roles("admin")
async def desbloquear_usuario(usuario_id: int):
    """Desbloquear an account locked by failed sign-ins (from every address that locks it)."""
    user = await target(usuario_id)
    n = await q.unlock(user["email"], g.user.id, limits())
    await log_change("usuarios", user["email"], "desbloquear", None, {"direcciones": n})
    msg = f"Se desbloqueó {user['email']}." if n else f"{user['email']} no estaba bloqueado."
    return redirect(url_for("admin.usuarios", aviso=msg), 303)


# ---- Importar usuarios ---------------------------------------------------------------------------

async def import_row(raw: dict) -> tuple[str, str]:
    """(result, detail) of one row: creado / actualizado / rechazado with the reason."""
    rol = clean(raw.get("rol", "")).lower()
    scope = clean(raw.get("plantel", "") or raw.get("empresa", ""))
    form = {"email": raw.get("correo", ""), "nombre": raw.get("nombre", ""), "rol": rol}
    if rol == "plantel":
        form["plantel"] = str(await q.plantel_by_cct_or_name(scope) or "")
    if rol == "empresa":
        form["empresa"] = str(await q.empresa_by_name(clean(raw.get("empresa", ""))) or "")
    f = await rules.read_form(form, creating=True)
    if f.errors:
        return "rechazado", " ".join(f.errors.values())
    existing = await q.by_email(f.email)
    if existing is None:
        user_id = await q.insert(f, rules.NO_PASSWORD)
        await rules.send_link(user_id, f.email, activation=True)
        await log_change("usuarios", f.email, "crear", None, _public(await q.one(user_id, limits())))
        return "creado", f.email
    before = await q.one(existing["id"], limits())
    try:
        await rules.check_admin_removal(before, g.user.id, f.rol, before["activo"])
    except rules.UserRuleError as e:
        return "rechazado", e.errors["_"]
    await q.update(existing["id"], f)
    await log_change("usuarios", f.email, "editar", _public(before), _public(await q.one(existing["id"], limits())))
    return "actualizado", f.email


@bp.route("/usuarios/importar", methods=["GET", "POST"])
@roles("admin")
async def importar_usuarios():
    """Importar usuarios from CSV/XLSX (email, nombre, rol, plantel CCT or name, empresa): a result per row;
    a file that cannot be read, or lacks a column, changes nothing."""
    if request.method == "GET":
        return await render("admin/importar_usuarios.html", results=None, error="")
    upload = (await request.files).get("archivo")
    suffix = Path(upload.filename or "").suffix.lower() if upload else ""
    if upload is None or suffix not in (".csv", ".xlsx"):
        return await render("admin/importar_usuarios.html", results=None,
                            error="Elija un archivo .csv o .xlsx con las columnas email, nombre, rol, plantel, empresa."), 422
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        tmp.write(upload.read())
        tmp.flush()
        try:
            rows = list(read_rows(tmp.name, required=("correo", "nombre", "rol")))  # "email" reads as "correo"
        except RosterError as e:  # unreadable or without a column: nothing changes
            return await render("admin/importar_usuarios.html", results=None,
                                error=f"No se pudo usar el archivo: {e} No se cambió nada."), 422
    results = []
    async with db.get_db().transaction():
        await rules.lock_admins()
        for line, raw in enumerate(rows, start=2):
            results.append((line, *await import_row(raw)))
    return await render("admin/importar_usuarios.html", results=results, error="")
