"""Demo data: the README's accounts and realistic students over all planteles and statuses.

The same generator feeds the benchmarks (bench/load_data.py) with hundreds of thousands of
rows through COPY. Photos and signatures are drawn placeholders (no real faces).
"""
from __future__ import annotations

import functools
import hashlib
import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from PIL import Image, ImageDraw

from . import db
from .auth import hash_password
from .biocrypt import seal
from .validation import CURP_ALPHABET, curp_check_digit, luhn_digit, suggest_vigencia

DEMO_PASSWORD = "demo1234"
DEMO_USERS = (
    ("cdazteca@conalepmex.edu.mx", "plantel", "Ciudad Azteca", "Control escolar Ciudad Azteca"),
    ("toluca@conalepmex.edu.mx", "plantel", "Toluca", "Control escolar Toluca"),
    ("estatal@conalepmex.edu.mx", "estatal", None, "Dirección Estatal"),
    ("empresa@conalepmex.edu.mx", "empresa", None, "Empresa de impresión"),
    ("admin@conalepmex.edu.mx", "admin", None, "UITI"),
)
NOMBRES_H = ("JOSE", "JUAN", "LUIS", "CARLOS", "YAHIR ALEXIS", "DIEGO", "KEVIN ALEXANDER", "ADAN",
             "OSCAR", "ÁNGEL", "JESÚS", "MIGUEL", "EMILIANO", "SANTIAGO", "JOSE GABRIEL", "RAÚL")
NOMBRES_M = ("MARIA", "KARLA ITZEL", "FERNANDA", "XIMENA", "GUADALUPE", "SOFÍA", "VALERIA", "ANA KAREN",
             "DANIELA", "JIMENA", "MONSERRAT", "ITZEL", "NAYELI", "ROCÍO", "BRENDA", "ESTEFANÍA")
APELLIDOS = ("ALBARRAN", "MALDONADO", "BAUTISTA", "OSORIO", "CORREA", "LUGO", "COLIN", "MORA", "ORTIZ",
             "GONZALEZ", "TELLEZ", "MARTINEZ", "ARGUETA", "ESQUIVEL", "HERNÁNDEZ", "GARCÍA", "LÓPEZ",
             "PÉREZ", "SÁNCHEZ", "RAMÍREZ", "CRUZ", "FLORES", "GÓMEZ", "DÍAZ", "REYES", "MUÑOZ",
             "NÚÑEZ", "JIMÉNEZ", "ÁLVAREZ", "CASTAÑEDA", "PEÑA", "IBÁÑEZ")
CARRERAS = ("ELIN", "INFO", "ADMO", "CONA", "ATRO", "QUIN", "RECL", "METM", "EGAD", "CDIA")
ESTADOS = ("MC", "MC", "MC", "DF", "DF", "HG", "PL")
# Share of students per status in the demo (all statuses present).
WEIGHTS = {"enrolado": 30, "aplazado": 3, "capturado": 12, "validado": 10, "solicitado": 5,
           "rechazado": 2, "retoma": 1, "imprimiendo": 5, "recibido": 10, "entregado": 22}
# The actions that lead to each status (the history the demo writes).
PATH = {
    "enrolado": [], "capturado": ["capturar"], "aplazado": ["capturar", "aplazar"],
    "validado": ["capturar", "validar"], "solicitado": ["capturar", "validar", "solicitar"],
    "imprimiendo": ["capturar", "validar", "solicitar", "imprimir"],
    "recibido": ["capturar", "validar", "solicitar", "imprimir", "recibir"],
    "entregado": ["capturar", "validar", "solicitar", "imprimir", "recibir", "entregar"],
    "rechazado": ["capturar", "validar", "solicitar", "imprimir", "recibir", "rechazar"],
    "retoma": ["capturar", "validar", "solicitar", "imprimir", "recibir", "rechazar_retoma"],
}
TARGET = {"capturar": "capturado", "aplazar": "aplazado", "validar": "validado", "solicitar": "solicitado",
          "imprimir": "imprimiendo", "recibir": "recibido", "entregar": "entregado", "rechazar": "rechazado",
          "rechazar_retoma": "retoma"}
COMMENTS = {"aplazar": "Fotografía con sombra lateral; repetir toma.",
            "rechazar": "Deficiencia en color y laminado", "rechazar_retoma": "Fotografía con manchas"}
ORDER_OF = {"solicitado": 3, "imprimiendo": 2, "recibido": 1, "entregado": 1, "rechazado": 1, "retoma": 1}


_FOLD = str.maketrans("ÁÉÍÓÚÜÑ", "AEIOUUX")


@functools.lru_cache(maxsize=None)
def _curp_name_parts(primer: str, segundo: str, nombre: str) -> tuple[str, str]:
    """The CURP's name letters: the first four and the three inner consonants (cached: names repeat)."""
    def letters(s: str) -> str:
        return "".join(c for c in s.translate(_FOLD) if c.isalpha())
    p, s, n = letters(primer), letters(segundo) or "X", letters(nombre.split()[0])
    vowel = next((c for c in p[1:] if c in "AEIOU"), "X")
    cons = lambda w: next((c for c in w[1:] if c not in "AEIOU"), "X")  # noqa: E731
    head, inner = p[0] + vowel + s[0] + n[0], cons(p) + cons(s) + cons(n)
    assert all(c in CURP_ALPHABET for c in head + inner), head + inner
    return head, inner


def make_curp(rng: random.Random, primer: str, segundo: str, nombre: str, born: date, sexo: str) -> str:
    """A CURP consistent with the name and birth date, with a valid check digit."""
    head, inner = _curp_name_parts(primer, segundo, nombre)
    century = rng.choice("0123456789") if born.year < 2000 else rng.choice("ABCDEFGH")
    body = (f"{head}{born.year % 100:02d}{born.month:02d}{born.day:02d}{sexo}{rng.choice(ESTADOS)}"
            f"{inner}{century}")
    return body + str(curp_check_digit(body))


def make_nss(rng: random.Random) -> str:
    """An 11-digit IMSS NSS with a Luhn check digit."""
    body = "".join(rng.choice("0123456789") for _ in range(10))
    return body + str(luhn_digit(body))


def placeholder_photo(seed: int) -> bytes:
    """A 600×800 drawn silhouette (no real face) as JPEG."""
    rng = random.Random(seed)
    bg = (rng.randint(215, 245), rng.randint(215, 245), rng.randint(220, 250))
    img = Image.new("RGB", (600, 800), bg)
    d = ImageDraw.Draw(img)
    skin = rng.choice([(224, 172, 105), (198, 134, 66), (241, 194, 125), (141, 85, 36)])
    shirt = rng.choice([(30, 60, 120), (20, 20, 20), (240, 240, 240), (0, 100, 60)])
    d.ellipse((80, 560, 520, 1000), fill=shirt)
    d.rectangle((255, 470, 345, 600), fill=skin)
    d.ellipse((170, 170, 430, 500), fill=skin)
    d.ellipse((160, 140, 440, 300), fill=(40, 30, 20))
    for x in (235, 335):
        d.ellipse((x, 310, x + 30, 330), fill=(50, 40, 30))
    d.arc((250, 390, 350, 440), 20, 160, fill=(120, 50, 50), width=5)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70, optimize=True)
    return buf.getvalue()


def placeholder_signature(seed: int) -> bytes:
    """A drawn scribble as a trimmed PNG."""
    rng = random.Random(seed)
    img = Image.new("L", (500, 150), 255)
    d = ImageDraw.Draw(img)
    pts = [(20 + i * 23, 75 + rng.randint(-45, 45)) for i in range(20)]
    d.line(pts, fill=0, width=3, joint="curve")
    d.line([(40, 120), (460, 110)], fill=0, width=2)
    img = img.crop(img.point(lambda v: 255 - v).getbbox())
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


@dataclass
class Plan:
    """How much to generate."""

    per_plantel: dict[str, int] = field(default_factory=dict)  # plantel name → students
    default_per_plantel: int = 80
    seed: int = 2019
    images: str = "per_student"  # or "shared": a few image rows reused (bench data)
    extra_planteles: int = 0  # bench: synthetic planteles beyond the real 39


def students_for(rng: random.Random, planteles: list[dict], plan: Plan, today: date) -> list[dict]:
    """Generate student rows (without ids) for every plantel."""
    statuses = list(WEIGHTS)
    weights = list(WEIGHTS.values())
    seq: dict[tuple[int, int], int] = {}
    out = []
    for p in planteles:
        n = plan.per_plantel.get(p["nombre"], plan.default_per_plantel)
        for i in range(n):
            semestre = rng.choice((1, 1, 3, 3, 5)) if today.month >= 8 or today.month < 2 else rng.choice((2, 4, 6))
            carrera = CARRERAS[(i // 40 + p["id"]) % len(CARRERAS)]
            grupo = f"{semestre}{(i // 40) % 12 + 1:02d}-{carrera}18"
            entry = today.year - (semestre - 1) // 2 - (0 if today.month >= 8 else 1)
            key = (entry % 100, p["numero"])
            seq[key] = seq.get(key, 0) + 1
            num = f"{entry % 100:02d}{p['numero']:03d}{seq[key] + (5000 if p['dup'] else 0):04d}"
            sexo = rng.choice("HM")
            nombre = rng.choice(NOMBRES_H if sexo == "H" else NOMBRES_M)
            primer, segundo = rng.choice(APELLIDOS), rng.choice(APELLIDOS)
            born = date(entry - 15, 1, 1) + timedelta(days=rng.randint(0, 364))
            status = rng.choices(statuses, weights)[0]
            if p["nombre"] == "Ciudad Azteca" and grupo.startswith(("102-", "101-")) and i % 40 < 35:
                status = "capturado"  # a full group waiting for validation, as in the manual
            user = "".join(c for c in (nombre[0] + primer).lower() if c.isalpha() and c.isascii())
            out.append({
                "matricula": f"{num}-{luhn_digit(num)}", "prematricula": num,
                "curp": make_curp(rng, primer, segundo, nombre, born, sexo),
                "folio": f"{rng.randint(1, 999_999_999):09d}", "nombre": nombre,
                "primer_apellido": primer, "segundo_apellido": segundo, "plantel_id": p["id"],
                "grupo": grupo, "carrera_codigo": carrera, "semestre": semestre,
                "correo": f"{user}{rng.randint(1000, 9999)}@conalepmex.edu.mx", "estatus": status,
                "vigencia_sugerida": suggest_vigencia(semestre, today),
            })
    return out


async def seed_users() -> None:
    """The README's demo accounts (password demo1234); the company account belongs to the demo's company."""
    h = hash_password(DEMO_PASSWORD)
    for email, rol, plantel, nombre in DEMO_USERS:
        await db.execute(
            """INSERT INTO usuarios (email, nombre, password_hash, rol, plantel_id, empresa_id)
               VALUES (:e, :n, :h, CAST(:r AS rol), (SELECT id FROM planteles WHERE nombre = :p),
                       CASE WHEN :r = 'empresa' THEN (SELECT min(id) FROM empresas) END)
               ON CONFLICT (email) DO NOTHING""",
            {"e": email, "n": nombre, "h": h, "r": rol, "p": plantel},
        )


async def has_students() -> bool:
    """True when any student exists (demo data is loaded only once)."""
    return bool(await db.fetch_val("SELECT EXISTS (SELECT 1 FROM alumnos)"))


async def seed_demo(plan: Plan | None = None) -> dict:
    """Load users and generated students with history; return counts."""
    plan = plan or Plan(per_plantel={"Ciudad Azteca": 518, "Toluca": 300})
    await seed_users()
    rng = random.Random(plan.seed)
    now = datetime.now(timezone.utc)
    today = now.date()
    planteles = await db.fetch_all("SELECT id, numero, nombre FROM planteles ORDER BY id")
    numeros = [p["numero"] for p in planteles]
    for p in planteles:
        p["dup"] = numeros.count(p["numero"]) > 1 and p["id"] != min(
            q["id"] for q in planteles if q["numero"] == p["numero"])
    planteles += await _extra_planteles(plan.extra_planteles)
    students = students_for(rng, planteles, plan, today)
    users = {r["rol"]: r["id"] for r in await db.fetch_all(
        "SELECT DISTINCT ON (rol) rol::text AS rol, id FROM usuarios ORDER BY rol, id")}
    async with db.raw_connection() as conn:
        async with conn.transaction():
            await _load(conn, rng, students, users, now, plan)
    from .sae import seed_demo_snapshot

    await seed_demo_snapshot()
    return {"alumnos": len(students)}


def extra_plantel_name(i: int) -> str:
    """Name of the i-th synthetic bench plantel (0-based)."""
    return f"Plantel de prueba {i + 1:03d}"


async def _extra_planteles(n: int) -> list[dict]:
    """Synthetic planteles for benchmarks (CCT 99DPT…)."""
    out = []
    for i in range(n):
        row = await db.fetch_one(
            """INSERT INTO planteles (numero, nombre, cct) VALUES (:n, :nombre, :cct)
               ON CONFLICT (cct) DO UPDATE SET numero = EXCLUDED.numero RETURNING id, numero, nombre""",
            {"n": 100 + i, "nombre": extra_plantel_name(i), "cct": f"99DPT{i:04d}Z"},
        )
        row["dup"] = False
        out.append(row)
    return out


async def _load(conn, rng: random.Random, students: list[dict], users: dict, now: datetime, plan: Plan) -> None:
    """COPY groups, students, images, orders, order items and events in one transaction."""
    grupos = sorted({(s["plantel_id"], s["grupo"]) for s in students})
    await conn.executemany("INSERT INTO grupos (plantel_id, clave) VALUES ($1, $2) ON CONFLICT DO NOTHING", grupos)
    orders = {}
    for number, estado in ((1, "recibida"), (2, "en_impresion"), (3, "solicitada")):
        orders[number] = await conn.fetchval(
            """INSERT INTO ordenes_impresion (estado, creada_por, creada_en, empresa_id)
               VALUES ($1, $2, $3, (SELECT min(id) FROM empresas)) RETURNING id""",
            estado, users["estatal"], now - timedelta(days=40 - number * 10))
    first_id = await conn.fetchval("SELECT nextval('alumnos_id_seq')")
    await conn.execute("SELECT setval('alumnos_id_seq', $1)", first_id + len(students))
    bio_rows, shared = [], None
    bio_id = await conn.fetchval("SELECT nextval('biometricos_id_seq')")
    photos = [placeholder_photo(i) for i in range(8)]
    signatures = [placeholder_signature(i) for i in range(8)]
    item_rows: list[tuple] = []

    def student_rows():
        """The students' rows, generated while COPY sends them (images and order items on the side)."""
        nonlocal bio_id, shared
        for idx, s in enumerate(students):
            aid = first_id + idx
            status = s["estatus"]
            path = PATH[status]
            t = _moment(now, idx)
            foto = firma = entrega = None
            if path:
                if plan.images == "shared" and shared is not None:
                    foto, firma, entrega = shared
                else:
                    foto, firma, entrega = bio_id, bio_id + 1, bio_id + 2
                    for off, (tipo, data, mime) in enumerate((("foto", photos[idx % 8], "image/jpeg"),
                                                               ("firma", signatures[idx % 8], "image/png"),
                                                               ("firma_entrega", signatures[(idx + 3) % 8], "image/png"))):
                        size = (600, 800) if tipo == "foto" else Image.open(io.BytesIO(data)).size
                        bio_rows.append((bio_id + off, aid, tipo, mime, seal(data), hashlib.sha256(data).hexdigest(),
                                         len(data), size[0], size[1], users.get("plantel"), t))
                    bio_id += 3
                    shared = shared or (foto, firma, entrega)
            validated = "validar" in path
            delivered = status == "entregado"
            order = orders.get(ORDER_OF.get(status, 0))
            yield (
                aid, s["matricula"], s["prematricula"], s["curp"], s["folio"], s["nombre"], s["primer_apellido"],
                s["segundo_apellido"], s["plantel_id"], s["grupo"], s["carrera_codigo"], s["semestre"], s["correo"],
                "Instituto Mexicano del Seguro Social (IMSS)" if validated else None,
                make_nss(rng) if validated else None, s["vigencia_sugerida"] if validated else None,
                status, t if path else None, t + timedelta(days=len(path)), t + timedelta(days=6) if delivered else None,
                COMMENTS.get(path[-1], "") if path else "", order, users.get("plantel") if validated else None,
                t + timedelta(days=2) if validated else None, foto, firma, entrega if delivered else None,
                t - timedelta(days=1),  # fecha_sae: when the "importar" event says it came from SAE
            )
            if order:
                item_rows.append((order, aid, False, "", status in ("solicitado", "imprimiendo")))
    await conn.execute("SET CONSTRAINTS ALL DEFERRED")  # students and their images point at each other
    await conn.copy_records_to_table("alumnos", records=student_rows(), columns=[
        "id", "matricula", "prematricula", "curp", "folio", "nombre", "primer_apellido", "segundo_apellido",
        "plantel_id", "grupo", "carrera_codigo", "semestre", "correo", "institucion_medica", "numero_afiliacion",
        "vigencia", "estatus", "fecha_biometricos", "fecha_estatus", "fecha_entrega", "comentario", "orden_id",
        "validado_por", "validado_en", "foto_id", "firma_id", "firma_entrega_id", "fecha_sae"])
    if bio_rows:
        await conn.copy_records_to_table("biometricos", records=bio_rows, columns=[
            "id", "alumno_id", "tipo", "mime", "datos", "sha256", "bytes", "ancho", "alto", "creado_por", "creado_en"])
        await conn.execute("SELECT setval('biometricos_id_seq', $1)", bio_id)
    await conn.copy_records_to_table("orden_items", records=item_rows,
                                     columns=["orden_id", "alumno_id", "reimpresion", "motivo", "abierto"])
    # The history is the largest table (≈3.7 rows per student): generated while COPY sends it, so
    # PostgreSQL stores one part while Python builds the next, and the rows never all sit in memory.
    await conn.copy_records_to_table("eventos", records=_event_rows(students, first_id, users, now, orders),
                                     columns=["alumno_id", "en", "usuario_id", "accion", "de", "a", "comentario",
                                              "orden_id"])


def _moment(now: datetime, idx: int) -> datetime:
    """When the idx-th generated student's story starts (spread over a few days, 60 days ago)."""
    return now - timedelta(days=60) + timedelta(minutes=idx % 5000)


def _event_rows(students: list[dict], first_id: int, users: dict, now: datetime, orders: dict):
    """The history of every generated student: an import, then one event per action of its path."""
    for idx, s in enumerate(students):
        aid, t = first_id + idx, _moment(now, idx)
        order = orders.get(ORDER_OF.get(s["estatus"], 0))
        yield (aid, t - timedelta(days=1), None, "importar", None, "enrolado", "", None)
        prev = "enrolado"
        for step, action in enumerate(PATH[s["estatus"]]):
            who = users.get("estatal") if action in ("solicitar", "recibir") else (
                users.get("empresa") if action == "imprimir" else users.get("plantel"))
            yield (aid, t + timedelta(days=step), who, action, prev, TARGET[action],
                   COMMENTS.get(action, ""), order if action in ("solicitar", "imprimir", "recibir") else None)
            prev = TARGET[action]
