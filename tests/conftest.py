"""Shared fixtures: a real PostgreSQL database per test session, the app, users and students.

The database is the embedded cluster (var/pgdata) or TEST_DATABASE_URL's server; each test
session creates its own fresh database and drops it at the end, so parallel runs never meet.
Each test starts from empty tables (reference catalogs kept).
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from PIL import Image

from app import create_app, db
from app.biocrypt import seal
from app.config import Settings
from app.demo import placeholder_photo, placeholder_signature
from app.migrate import migrate
from app.pgembed import embedded_url

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "data"  # photos and the fake camera stream (tests/data/README.md)
PASSWORD = "clave-segura-1"
TABLES_TO_CLEAN = ("eventos", "orden_items", "biometricos", "alumnos", "ordenes_impresion", "grupos",
                   "sesiones", "recuperaciones", "intentos_acceso", "usuarios", "cambios_admin", "limites_uso")


def pytest_collection_modifyitems(config, items):
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main thread
    for as long as the browser lives, which async tests cannot share."""
    items.sort(key=lambda item: "/e2e/" in str(item.fspath))


def with_database(url: str, name: str) -> str:
    """url pointing at another database name (works for socket URLs with ?host=)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def server_url() -> str:
    """A PostgreSQL server: TEST_DATABASE_URL, or the embedded cluster."""
    return os.environ.get("TEST_DATABASE_URL") or embedded_url()


async def create_database(server: str, prefix: str) -> str:
    """Create a fresh migrated database and return its URL."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(with_database(server, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(server, name)
    await migrate(url)
    return url


async def drop_database(server: str, url: str) -> None:
    """Drop a test database (terminating leftover connections)."""
    name = urlsplit(url).path.lstrip("/")
    admin = await asyncpg.connect(with_database(server, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def database_url(server_url):
    """A fresh, migrated database for this test session."""
    url = await create_database(server_url, "credtest")
    yield url
    await drop_database(server_url, url)


@pytest.fixture(scope="session")
async def app(database_url):
    """The application, started (connected to the test database) for the whole session."""
    settings = Settings(database_url=database_url, secret_key="test-secret-key", public_url="http://test")
    application = create_app(settings)
    application.config["TESTING"] = True
    async with application.test_app():
        yield application


@pytest.fixture(autouse=True)
async def clean(request):
    """Empty every non-catalog table before each test that uses the database."""
    if "app" not in request.fixturenames and "database_url" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("app")
    await db.execute("TRUNCATE " + ", ".join(TABLES_TO_CLEAN) + " RESTART IDENTITY CASCADE")
    await db.execute("DELETE FROM carreras WHERE codigo = nombre")  # added by imports
    yield


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One argon2 hash reused by every test user (hashing is deliberately slow)."""
    from app.auth import hash_password

    return hash_password(PASSWORD)


async def plantel_id(nombre: str) -> int:
    """Id of a plantel by name."""
    return await db.fetch_val("SELECT id FROM planteles WHERE nombre = :n", {"n": nombre})


@pytest.fixture
async def users(app, password_hash) -> dict[str, dict]:
    """One user per role plus a second plantel: keys plantel, plantel_b, estatal, empresa, admin."""
    spec = {"plantel": ("cdazteca@conalepmex.edu.mx", "plantel", "Ciudad Azteca"),
            "plantel_b": ("toluca@conalepmex.edu.mx", "plantel", "Toluca"),
            "estatal": ("estatal@conalepmex.edu.mx", "estatal", None),
            "empresa": ("empresa@conalepmex.edu.mx", "empresa", None),
            "admin": ("admin@conalepmex.edu.mx", "admin", None)}
    out = {}
    for key, (email, rol, plantel) in spec.items():
        pid = await plantel_id(plantel) if plantel else None
        uid = await db.fetch_val(
            "INSERT INTO usuarios (email, password_hash, rol, plantel_id) VALUES (:e, :h, CAST(:r AS rol), :p) RETURNING id",
            {"e": email, "h": password_hash, "r": rol, "p": pid})
        out[key] = {"id": uid, "email": email, "rol": rol, "plantel_id": pid}
    await db.execute("UPDATE usuarios SET empresa_id = 1 WHERE rol = 'empresa'")  # migration 0005's company
    return out


def actor(user: dict):
    """The status-machine Actor of a users fixture entry."""
    from app.status import Actor

    return Actor(id=user["id"], rol=user["rol"], plantel_id=user["plantel_id"], email=user["email"])


_counter = iter(range(1, 10_000_000))


def new_matricula(prefix: str = "25001") -> str:
    """A fresh matrícula with a valid Luhn digit."""
    from app.validation import luhn_digit

    num = f"{prefix}{next(_counter):04d}"
    return f"{num}-{luhn_digit(num)}"


async def add_image(alumno_id: int, tipo: str, data: bytes | None = None) -> int:
    """Store a biometric image row for a student (sealed as the app stores it; sha256/bytes of the plaintext)."""
    data = data or (placeholder_photo(alumno_id) if tipo == "foto" else placeholder_signature(alumno_id))
    img = Image.open(io.BytesIO(data))
    return await db.fetch_val(
        """INSERT INTO biometricos (alumno_id, tipo, mime, datos, sha256, bytes, ancho, alto)
           VALUES (:a, CAST(:t AS biometrico_tipo), :m, :d, :s, :b, :w, :h) RETURNING id""",
        {"a": alumno_id, "t": tipo, "m": "image/jpeg" if img.format == "JPEG" else "image/png", "d": seal(data),
         "s": hashlib.sha256(data).hexdigest(), "b": len(data), "w": img.width, "h": img.height})


async def make_student(estatus: str = "enrolado", plantel: str = "Ciudad Azteca", grupo: str = "102-ELIN18",
                       **overrides) -> dict:
    """Insert a consistent student in any status (test data builder; bypasses the machine on purpose)."""
    pid = await plantel_id(plantel)
    matricula = overrides.pop("matricula", None) or new_matricula()
    fields = {"matricula": matricula, "prematricula": matricula.split("-")[0], "curp": "AAMY021208HDFLLHA4",
              "folio": "340100337", "nombre": "YAHIR ALEXIS", "primer_apellido": "ALBARRAN",
              "segundo_apellido": "MALDONADO", "plantel_id": pid, "grupo": grupo,
              "carrera_codigo": grupo.split("-")[1][:4], "semestre": int(grupo[0]),
              "correo": "yalbarran0818@conalepmex.edu.mx"}
    fields.update(overrides)
    await db.execute("INSERT INTO grupos (plantel_id, clave) VALUES (:p, :g) ON CONFLICT DO NOTHING",
                     {"p": pid, "g": grupo})
    cols = ", ".join(fields)
    aid = await db.fetch_val(f"INSERT INTO alumnos ({cols}) VALUES ({', '.join(':' + k for k in fields)}) RETURNING id",
                             fields)
    if estatus != "enrolado":
        sets = {"foto_id": await add_image(aid, "foto"), "firma_id": await add_image(aid, "firma")}
        if estatus not in ("aplazado", "capturado"):
            sets.update(institucion_medica="Instituto Mexicano del Seguro Social (IMSS)",
                        numero_afiliacion="72795608040", vigencia=date(2028, 8, 1))
        if estatus == "entregado":
            sets.update(firma_entrega_id=await add_image(aid, "firma_entrega"),
                        fecha_entrega=datetime.now(timezone.utc))
        assign = ", ".join(f"{k} = :{k}" for k in sets)
        await db.execute(f"UPDATE alumnos SET {assign}, estatus = CAST(:e AS estatus) WHERE id = :id",
                         {**sets, "e": estatus, "id": aid})
    return await db.fetch_one("SELECT *, estatus::text AS estatus FROM alumnos WHERE id = :id", {"id": aid})


@pytest.fixture
def client(app):
    """A fresh test client (its own cookie jar)."""
    return app.test_client()


async def csrf_of(client) -> str:
    """The client's CSRF token (fetching the login page sets the cookie)."""
    for cookie in client.cookie_jar:
        if cookie.name == "csrf":
            return cookie.value
    await client.get("/login")
    return await csrf_of(client)


async def login(client, email: str, password: str = PASSWORD, remember: bool = False):
    """Sign in through the real form; return the response."""
    token = await csrf_of(client)
    form = {"email": email, "password": password, "csrf_token": token}
    if remember:
        form["remember"] = "1"
    return await client.post("/login", form=form)


async def post(client, path: str, form: dict | None = None, **kw):
    """POST a form with the CSRF token."""
    token = await csrf_of(client)
    return await client.post(path, form={**(form or {}), "csrf_token": token}, **kw)


@pytest.fixture
async def signed_in(app, users):
    """A factory: await signed_in('plantel') → a client signed in as that user."""
    async def make(key: str):
        c = app.test_client()
        r = await login(c, users[key]["email"])
        assert r.status_code == 302, await r.get_data(as_text=True)
        return c
    return make


def text_of(html: str) -> str:
    """Visible text of an HTML page, whitespace collapsed (for assertions)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def uid() -> str:
    """A random UUID string."""
    return str(uuid.uuid4())
