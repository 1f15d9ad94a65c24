"""Command line: python -m app serve | worker | migrate | seed-demo | create-user | import-students FILE | load-sae FILE."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys

from . import db
from .config import Settings
from .pgembed import database_url


async def _connected(settings: Settings):
    """Migrate and connect the module-level Database; return its URL."""
    from .migrate import migrate

    url = database_url(settings.database_url)
    await migrate(url)
    db.set_db(db.make_database(url, settings.db_pool_max))
    await db.get_db().connect()
    return url


async def _seed_if_empty() -> None:
    """Load the demo data on the first run."""
    from .demo import has_students, seed_demo

    if not await has_students():
        counts = await seed_demo()
        print(f"Datos de demostración cargados: {counts['alumnos']} alumnos.")


def cmd_serve(args, settings: Settings) -> None:
    """Migrate, optionally seed the demo, and serve with hypercorn until Ctrl-C (--demo: with one job worker)."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from . import create_app, jobs

    async def main() -> None:
        url = await _connected(settings)
        if args.demo:
            await _seed_if_empty()
        await db.get_db().disconnect()
        db.set_db(None)
        config = Config()
        config.bind = [f"{args.host}:{args.port}"]
        config.accesslog = "-" if args.access_log else None
        stop = asyncio.Event()
        worker = asyncio.create_task(jobs.run_forever(settings, url, stop)) if args.demo or args.worker else None
        print(f"Sistema de Credencialización en http://{args.host}:{args.port} (Ctrl-C para detener)"
              + (" con la cola de correos en el mismo proceso" if worker else ""))
        try:
            await serve(create_app(settings), config)
        finally:
            stop.set()
            if worker:
                await worker

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    print("Servidor detenido.")


def cmd_worker(_args, settings: Settings) -> None:
    """Run the background job worker (mail) until Ctrl-C or SIGTERM; reconnects after outages."""
    import signal

    from . import jobs
    from .migrate import migrate

    async def main() -> None:
        url = database_url(settings.database_url)
        await migrate(url)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        print("Cola de trabajos en marcha (Ctrl-C para detener).")
        await jobs.run_forever(settings, url, stop)

    asyncio.run(main())
    print("Cola de trabajos detenida.")


def cmd_migrate(_args, settings: Settings) -> None:
    """Apply pending migrations."""
    from .migrate import migrate

    applied = asyncio.run(migrate(database_url(settings.database_url)))
    print("Migraciones aplicadas: " + (", ".join(applied) if applied else "ninguna pendiente"))


def cmd_seed_demo(_args, settings: Settings) -> None:
    """Load the demo accounts and students (once)."""
    async def main() -> None:
        await _connected(settings)
        await _seed_if_empty()
        await db.get_db().disconnect()
    asyncio.run(main())


def cmd_create_user(args, settings: Settings) -> None:
    """Create a user, asking for the password twice."""
    from .auth import check_password_strength, create_user

    password = os.environ.get("NEW_USER_PASSWORD") or getpass.getpass("Contraseña: ")
    if not os.environ.get("NEW_USER_PASSWORD") and getpass.getpass("Repita la contraseña: ") != password:
        sys.exit("Las contraseñas no coinciden.")
    if problem := check_password_strength(password, args.email):
        sys.exit(problem)

    async def main() -> None:
        await _connected(settings)
        plantel_id = None
        if args.plantel:
            plantel_id = await db.fetch_val(
                "SELECT id FROM planteles WHERE nombre = :p OR cct = :p", {"p": args.plantel})
            if plantel_id is None:
                sys.exit(f"No existe el plantel «{args.plantel}».")
        if (args.role == "plantel") != (plantel_id is not None):
            sys.exit("El perfil plantel requiere --plantel; los demás perfiles no llevan plantel.")
        from .queries.ordenes import empresa_id as find_empresa  # the printing company, by name or id
        empresa_id = await find_empresa(args.empresa) if args.empresa else None
        if args.empresa and empresa_id is None:
            sys.exit(f"No existe la empresa «{args.empresa}».")
        if (args.role == "empresa") != (empresa_id is not None):
            sys.exit("El perfil empresa requiere --empresa; los demás perfiles no llevan empresa.")
        user_id = await create_user(args.email, args.role, password, plantel_id, args.nombre or "",
                                    empresa_id=empresa_id)
        print(f"Usuario {args.email} creado (id {user_id}).")
        await db.get_db().disconnect()
    asyncio.run(main())


def _file_command(settings: Settings, load) -> None:
    """Run `await load()` on the database, print its report lines; exit 2 when the file is refused."""
    from .roster import RosterError

    async def main() -> int:
        await _connected(settings)
        try:
            result = await load()
        except RosterError as e:
            print(f"Archivo rechazado, no se cambió nada: {e}")
            return 2
        finally:
            await db.get_db().disconnect()
        for line in result.lines():
            print(line)
        return 0
    sys.exit(asyncio.run(main()))


def cmd_import_students(args, settings: Settings) -> None:
    """Import or update a CSV/XLSX roster; print the outcome per row."""
    from .roster import import_roster

    _file_command(settings, lambda: import_roster(args.file))


def cmd_load_sae(args, settings: Settings) -> None:
    """Load an SAE export (CSV/XLSX) into the SAE snapshot and compute its Conciliación SAE; print the outcome."""
    from .conciliacion import load_and_reconcile

    _file_command(settings, lambda: load_and_reconcile(args.file, replace=args.reemplazar))


def cmd_backup(args, settings: Settings) -> None:
    """Dump the whole database (biometrics included) to a file."""
    from .backup import BackupError, backup

    try:
        path = backup(database_url(settings.database_url), args.file)
    except BackupError as e:
        sys.exit(f"No se pudo respaldar: {e}")
    print(f"Respaldo escrito en {path} ({path.stat().st_size // 1024} KB).")


def cmd_restore(args, settings: Settings) -> None:
    """Restore a dump into the configured (empty) database."""
    from .backup import BackupError, restore

    try:
        restore(database_url(settings.database_url), args.file)
    except BackupError as e:
        sys.exit(f"No se pudo restaurar: {e}")
    print("Respaldo restaurado.")


def cmd_rotate_key(args, settings: Settings) -> None:
    """Re-encrypt every image not under the current key, in batches, while the app keeps serving."""
    from . import biocrypt
    from .queries.biometricos import rotate

    if args.print_key:
        return print(biocrypt.new_key_text())
    if args.batch < 1:
        sys.exit("--batch debe ser al menos 1.")

    async def main() -> None:
        await _connected(settings)
        try:
            out = await rotate(args.batch)
        finally:
            await db.get_db().disconnect()
        print(f"Listo: {out.resealed} re-cifradas; pendientes: {out.pending}."
              + (f" Dañadas (no se pudieron re-cifrar): {out.damaged}." if out.damaged else "")
              + ("" if out.pending else " Ya puede retirar las llaves anteriores (consérvelas mientras guarde "
                 "respaldos hechos con ellas)."))
    try:
        if args.new:
            print(f"Llave nueva en var/biometric_key (id {biocrypt.new_dev_key().current_id.hex()}).")
        asyncio.run(main())
    except biocrypt.BiometricKeyError as e:
        sys.exit(str(e))


def cmd_purge(args, settings: Settings) -> None:
    """Delete the biometrics due under the retention policy (--dry-run: only count); print the report."""
    from .privacy import run_purge

    async def main() -> None:
        await _connected(settings)
        try:
            report = await run_purge(settings, dry_run=args.dry_run)
        finally:
            await db.get_db().disconnect()
        print("\n".join(report.lines()))
    asyncio.run(main())


def cmd_autoservicio(args, settings: Settings) -> None:
    """Turn a plantel's Mi credencial submissions on or off (docs/autoservicio.md)."""
    from .queries.autoservicio import set_self_service

    async def main() -> int:
        await _connected(settings)
        try:
            nombre = await set_self_service(args.plantel, args.activar)
        finally:
            await db.get_db().disconnect()
        if nombre is None:
            print(f"No existe el plantel «{args.plantel}» (nombre o CCT).", file=sys.stderr)
            return 1
        print(f"Plantel {nombre}: envío de fotografías por los alumnos {'activado' if args.activar else 'desactivado'}.")
        return 0
    raise SystemExit(asyncio.run(main()))


def cmd_create_api_token(args, settings: Settings) -> None:
    """Issue a company-API bearer token for an empresa user and print it once."""
    from .api_tokens import create_token

    async def main() -> None:
        await _connected(settings)
        try:
            token = await create_token(args.email, args.nombre or "")
        except ValueError as e:
            sys.exit(str(e))
        finally:
            await db.get_db().disconnect()
        print(f"Token de la API para {args.email} (guárdelo: no se vuelve a mostrar):\n{token}")
    asyncio.run(main())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    p = argparse.ArgumentParser(prog="python -m app", description="Sistema de Credencialización")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="servir la aplicación")
    s.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    s.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    s.add_argument("--demo", action="store_true", help="cargar datos de demostración si la base está vacía")
    s.add_argument("--access-log", action="store_true")
    s.add_argument("--worker", action="store_true", help="procesar también la cola de correos (implícito con --demo)")
    s.set_defaults(func=cmd_serve)
    sub.add_parser("worker", help="procesar la cola de trabajos (correos)").set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="aplicar migraciones").set_defaults(func=cmd_migrate)
    sub.add_parser("seed-demo", help="cargar datos de demostración").set_defaults(func=cmd_seed_demo)
    u = sub.add_parser("create-user", help="crear un usuario")
    u.add_argument("email")
    u.add_argument("role", choices=["plantel", "estatal", "empresa", "admin"])
    u.add_argument("--plantel", help="nombre o CCT del plantel (perfil plantel)")
    u.add_argument("--nombre")
    u.add_argument("--empresa", help="nombre o id de la empresa de impresión (perfil empresa)")
    u.set_defaults(func=cmd_create_user)
    i = sub.add_parser("import-students", help="importar alumnos de un archivo CSV o XLSX")
    i.add_argument("file")
    i.set_defaults(func=cmd_import_students)
    sae = sub.add_parser("load-sae", help="cargar una exportación del SAE (CSV o XLSX) a la copia local del SAE")
    sae.add_argument("file")
    sae.add_argument("--reemplazar", action="store_true", help="borrar antes la copia local completa")
    sae.set_defaults(func=cmd_load_sae)
    b = sub.add_parser("backup", help="respaldar la base de datos completa en un archivo")
    b.add_argument("file")
    b.set_defaults(func=cmd_backup)
    r = sub.add_parser("restore", help="restaurar un respaldo en una base de datos vacía")
    r.add_argument("file")
    r.set_defaults(func=cmd_restore)
    k = sub.add_parser("rotate-key", help="re-cifrar las imágenes con la llave actual (docs/privacy.md)")
    k.add_argument("--batch", type=int, default=500, help="imágenes por transacción (500)")
    k.add_argument("--new", action="store_true", help="desarrollo: generar una llave nueva en var/")
    k.add_argument("--print-key", action="store_true", help="solo imprimir una llave nueva para BIOMETRIC_KEY")
    k.set_defaults(func=cmd_rotate_key)
    t = sub.add_parser("create-api-token", help="emitir un token de la API para un usuario de la empresa")
    t.add_argument("email")
    t.add_argument("--nombre", help="etiqueta del token (p. ej. el sistema que lo usa)")
    t.set_defaults(func=cmd_create_api_token)
    a = sub.add_parser("autoservicio", help="permitir o no que los alumnos de un plantel envíen su fotografía y firma")
    a.add_argument("plantel", help="nombre o CCT del plantel")
    onoff = a.add_mutually_exclusive_group(required=True)
    onoff.add_argument("--activar", action="store_true")
    onoff.add_argument("--desactivar", action="store_true")
    a.set_defaults(func=cmd_autoservicio)
    g = sub.add_parser("purge", help="eliminar los biométricos vencidos según la política de conservación")
    g.add_argument("--dry-run", action="store_true", help="solo contar lo que se eliminaría")
    g.set_defaults(func=cmd_purge)
    return p


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    args.func(args, Settings())


if __name__ == "__main__":
    main()
