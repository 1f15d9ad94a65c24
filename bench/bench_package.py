"""Print-order package of 2,000 cards: time and peak memory of the process that builds it.

    .venv/bin/python -m bench.bench_package [--cards 2000] [--keep] [--sin-cifrar]

Creates its own scratch database (in the embedded cluster, or BENCH_SERVER_URL's server), loads
N Validado students each with a DIFFERENT realistic photo (tests/data/photos/rostro-ok-600x800.jpg
re-encoded with a mark, ~70 KB, so nothing is deduplicated) and signature, creates one order through
app.orders.crear (timed too), then builds the package in a fresh child process and reports its
wall time and peak RSS (ru_maxrss). Targets (issue 5): < 60 s and < 300 MB.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from datetime import date

import asyncpg
from PIL import Image, ImageDraw

from app import biocrypt, orders
from app.config import ROOT
from app.demo import placeholder_signature
from app.status import Actor

from .common import connected, machine

PHOTO = ROOT / "tests" / "data" / "photos" / "rostro-ok-600x800.jpg"
TARGET_S, TARGET_MB = 60.0, 300.0


def photos(n: int):
    """n distinct JPEGs derived from the sample face."""
    base = Image.open(PHOTO).convert("RGB")
    for i in range(n):
        img = base.copy()
        ImageDraw.Draw(img).text((10 + i % 500, 10), f"{i:05d}", fill=(i % 256, 0, 0))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        yield buf.getvalue()


async def load(url: str, n: int, encrypt: bool = True) -> int:
    """Insert n validated students with images (sealed as stored, unless not encrypt) and create their order."""
    conn = await asyncpg.connect(url)
    try:
        pid = await conn.fetchval("SELECT id FROM planteles WHERE nombre = 'Ciudad Azteca'")
        await conn.execute("INSERT INTO grupos VALUES ($1, '102-ELIN18') ON CONFLICT DO NOTHING", pid)
        await conn.execute("INSERT INTO carreras VALUES ('ELIN', 'PT-B en Electricidad Industrial') ON CONFLICT DO NOTHING")
        uid = await conn.fetchval("INSERT INTO usuarios (email, password_hash, rol) VALUES "
                                  "('estatal@bench.mx', 'x', 'estatal') RETURNING id")
        bios, alumnos = [], []
        for i, foto in enumerate(photos(n)):
            firma = placeholder_signature(i)
            aid, fid, sid = i + 1, 2 * i + 1, 2 * i + 2
            for bid, tipo, mime, data in ((fid, "foto", "image/jpeg", foto), (sid, "firma", "image/png", firma)):
                bios.append((bid, aid, tipo, mime, biocrypt.seal(data) if encrypt else data,
                             hashlib.sha256(data).hexdigest(), len(data), 600, 800))
            pre = f"25{i:07d}"
            from app.validation import luhn_digit
            alumnos.append((aid, f"{pre}-{luhn_digit(pre)}", pre, "AAMY021208HDFLLHA4", f"NOMBRE {i}", "PÉREZ",
                            "NÚÑEZ", pid, "102-ELIN18", "ELIN", 1, f"a{i}@conalepmex.edu.mx",
                            "Instituto Mexicano del Seguro Social (IMSS)", "72795608040", date(2029, 8, 1),
                            "validado", fid, sid))
        async with conn.transaction():
            await conn.execute("SET CONSTRAINTS ALL DEFERRED")
            await conn.copy_records_to_table("biometricos", records=bios, columns=[
                "id", "alumno_id", "tipo", "mime", "datos", "sha256", "bytes", "ancho", "alto"])
            await conn.copy_records_to_table("alumnos", records=alumnos, columns=[
                "id", "matricula", "prematricula", "curp", "nombre", "primer_apellido", "segundo_apellido",
                "plantel_id", "grupo", "carrera_codigo", "semestre", "correo", "institucion_medica",
                "numero_afiliacion", "vigencia", "estatus", "foto_id", "firma_id"])
    finally:
        await conn.close()
    async with connected(url):
        t = time.perf_counter()
        res = await orders.crear(Actor(id=uid, rol="estatal"), [pid], False)
        print(f"orden {res.orden_id}: {res.alumnos} alumnos → Solicitado en {time.perf_counter() - t:.1f} s")
    return res.orden_id


async def build(url: str, orden_id: int) -> dict:
    """Build the package (child process) and return time, size and peak RSS."""
    from app.config import Settings
    from app.package import build_package

    async with connected(url):
        t = time.perf_counter()
        path = await build_package(orden_id, Settings(secret_key="bench", public_url="https://credencial.example"))
        seconds = time.perf_counter() - t
    size = os.path.getsize(path)
    with zipfile.ZipFile(path) as z:
        entries = len(z.namelist())
    os.unlink(path)
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    from app.package import _POOL
    if _POOL is not None:
        _POOL.shutdown()
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"seconds": seconds, "zip_mb": size / 2**20, "entries": entries, "peak_rss_mb": me.ru_maxrss / 1024,
            "cpu_s": me.ru_utime + me.ru_stime, "workers_cpu_s": kids.ru_utime + kids.ru_stime,
            "workers_peak_rss_mb": kids.ru_maxrss / 1024, "load": os.getloadavg()[0]}


async def main(args) -> None:
    """Scratch database → data → order → package in a child process → figures."""
    from tests.conftest import create_database, drop_database

    server = os.environ.get("BENCH_SERVER_URL")
    if not server:
        from app.pgembed import embedded_url
        server = embedded_url()
    url = await create_database(server, "benchpkg")
    try:
        t = time.perf_counter()
        orden_id = await load(url, args.cards, not args.sin_cifrar)
        print(f"datos cargados en {time.perf_counter() - t:.1f} s")
        out = subprocess.run([sys.executable, "-m", "bench.bench_package", "--child", url, str(orden_id)],
                             cwd=ROOT, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        ok = r["seconds"] < TARGET_S and r["peak_rss_mb"] < TARGET_MB
        print(f"{machine()}\npaquete de {args.cards} credenciales{' (imágenes sin cifrar)' if args.sin_cifrar else ''}: {r['seconds']:.1f} s, pico de memoria del proceso "
              f"{r['peak_rss_mb']:.0f} MB, ZIP {r['zip_mb']:.0f} MB con {r['entries']} archivos "
              f"(metas: < {TARGET_S:.0f} s, < {TARGET_MB:.0f} MB) → {'OK' if ok else 'FUERA DE META'}\n"
              f"CPU: proceso {r['cpu_s']:.1f} s, procesos del PDF {r['workers_cpu_s']:.1f} s "
              f"(pico {r['workers_peak_rss_mb']:.0f} MB cada uno); carga del equipo al terminar {r['load']:.1f}")
        if not ok:
            sys.exit(1)
    finally:
        if not args.keep:
            await drop_database(server, url)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cards", type=int, default=2000)
    p.add_argument("--keep", action="store_true", help="no borrar la base de datos temporal")
    p.add_argument("--sin-cifrar", action="store_true", help="imágenes guardadas en claro (para comparar)")
    p.add_argument("--child", nargs=2, metavar=("URL", "ORDEN"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(asyncio.run(build(a.child[0], int(a.child[1])))))
    else:
        asyncio.run(main(a))
