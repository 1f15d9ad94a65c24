"""Tablero (issue 15): stage times recomputed independently from eventos, detenido thresholds at their
edges, role and plantel scope, hostile query parameters, Excel downloads, charts and order reconciliation."""
from __future__ import annotations

import io
import random
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from app import db, orders
from app.queries import tablero as q
from app.status import transition
from app.views.tablero import cortes

from .conftest import actor, make_student, plantel_id, post, text_of

MX = ZoneInfo("America/Mexico_City")
# stage → (start milestone status, end milestone status)
STAGES = {1: ("enrolado", "capturado"), 2: ("capturado", "validado"), 3: ("validado", "solicitado"),
          4: ("solicitado", "recibido"), 5: ("recibido", "entregado"), 6: ("enrolado", "entregado")}
PATH = (("importar", None, "enrolado"), ("capturar", "enrolado", "capturado"), ("validar", "capturado", "validado"),
        ("solicitar", "validado", "solicitado"), ("imprimir", "solicitado", "imprimiendo"),
        ("recibir", "imprimiendo", "recibido"), ("entregar", "recibido", "entregado"))

# The independent computation: first arrival in each milestone status, straight from eventos.
INDEPENDENT_SQL = """
WITH h AS (
  SELECT e.alumno_id, a.plantel_id,
         min(e.en) FILTER (WHERE e.a = 'enrolado') AS enrolado, min(e.en) FILTER (WHERE e.a = 'capturado') AS capturado,
         min(e.en) FILTER (WHERE e.a = 'validado') AS validado, min(e.en) FILTER (WHERE e.a = 'solicitado') AS solicitado,
         min(e.en) FILTER (WHERE e.a = 'recibido') AS recibido, min(e.en) FILTER (WHERE e.a = 'entregado') AS entregado
  FROM eventos e JOIN alumnos a ON a.id = e.alumno_id GROUP BY e.alumno_id, a.plantel_id
), s AS (
  SELECT plantel_id, etapa, fin, floor(extract(epoch FROM fin - ini) / 3600)::int AS horas
  FROM h CROSS JOIN LATERAL (VALUES (1, enrolado, capturado), (2, capturado, validado), (3, validado, solicitado),
                                    (4, solicitado, recibido), (5, recibido, entregado), (6, enrolado, entregado)) v(etapa, ini, fin)
  WHERE ini IS NOT NULL AND fin IS NOT NULL
)
SELECT coalesce(plantel_id, 0) AS plantel_id, etapa, count(*)::int AS n,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY horas) AS mediana,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY horas) AS p90
FROM s WHERE (fin AT TIME ZONE 'America/Mexico_City')::date BETWEEN :d1 AND :d2
GROUP BY GROUPING SETS ((plantel_id, etapa), (etapa))"""


async def _event(alumno_id: int, accion: str, de: str | None, a: str, en: datetime, orden_id: int | None = None):
    """One eventos row (the trigger absorbs it as the status machine's insert would)."""
    await db.execute(
        """INSERT INTO eventos (alumno_id, en, accion, de, a, orden_id)
           VALUES (:al, :en, :ac, CAST(:de AS estatus), CAST(:a AS estatus), :o)""",
        {"al": alumno_id, "en": en, "ac": accion, "de": de, "a": a, "o": orden_id})


async def _history(rng: random.Random, start: datetime, plantel: str, steps: int, batch: bool) -> None:
    """A student whose first `steps` actions of PATH happen after random known gaps (hours and minutes)."""
    s = await make_student("enrolado", plantel=plantel)
    t, rows = start, []
    for accion, de, a in PATH[:steps]:
        rows.append((s["id"], accion, de, a, t))
        t += timedelta(hours=rng.randint(0, 24 * 12), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
    if batch:  # one INSERT of many rows: the trigger sees them all at once (as the demo's COPY)
        await db.execute("INSERT INTO eventos (alumno_id, accion, de, a, en) SELECT * FROM unnest("
                         "CAST(:i AS bigint[]), CAST(:ac AS text[]), CAST(:de AS estatus[]), CAST(:a AS estatus[]),"
                         " CAST(:en AS timestamptz[]))",
                         {"i": [r[0] for r in rows], "ac": [r[1] for r in rows], "de": [r[2] for r in rows],
                          "a": [r[3] for r in rows], "en": [r[4] for r in rows]})
    else:
        for r in rows:
            await _event(*r)


async def _independent(d1: date, d2: date) -> dict:
    """{(plantel_id or 0 for the state, etapa): (n, mediana, p90)} from eventos alone."""
    rows = await db.fetch_all(INDEPENDENT_SQL, {"d1": d1, "d2": d2})
    return {(r["plantel_id"], r["etapa"]): (r["n"], r["mediana"], r["p90"]) for r in rows}


def _tablero_figures(result: dict) -> dict:
    """The same shape from app.queries.tablero.etapas()."""
    out = {(0, e): (r["n"], r["mediana"], r["p90"]) for e, r in result["estatal"].items()}
    for pid, et in result["planteles"].items():
        out.update({(pid, e): (r["n"], r["mediana"], r["p90"]) for e, r in et.items()})
    return out


async def _generated(users, n: int = 60) -> datetime:
    """n students over two planteles with random known durations, one event per statement or in batches."""
    rng = random.Random(15)
    base = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
    for i in range(n):
        await _history(rng, base + timedelta(hours=rng.randint(0, 24 * 30)), ("Ciudad Azteca", "Toluca")[i % 2],
                       rng.randint(1, len(PATH)), batch=i % 3 == 0)
    return base


async def test_stage_times_equal_an_independent_computation(app, users):
    """Median, p90 and counts per plantel and statewide equal percentile_disc over eventos, for several periods."""
    await _generated(users)
    for d1, d2 in ((date(2026, 9, 1), date(2026, 12, 31)), (date(2026, 9, 10), date(2026, 10, 5)),
                   (date(2026, 10, 1), date(2026, 10, 1)), (date(2025, 1, 1), date(2025, 12, 31))):
        expected = await _independent(d1, d2)
        assert _tablero_figures(await q.etapas(d1, d2)) == expected, (d1, d2)
        one = await plantel_id("Toluca")
        mine = _tablero_figures(await q.etapas(d1, d2, one))
        assert {k: v for k, v in mine.items() if k[0] == one} == {k: v for k, v in expected.items() if k[0] == one}
    assert len(await _independent(date(2026, 9, 1), date(2026, 12, 31))) == 3 * 6  # 2 planteles + state, 6 stages


async def test_detours_and_reprints_count_first_arrivals(app, users):
    """Aplazado, a retake and a reprint cycle: the Tablero still equals first arrivals computed from eventos."""
    s = await make_student("enrolado")
    t = datetime(2026, 9, 2, 15, 0, tzinfo=timezone.utc)
    story = [("importar", None, "enrolado"), ("capturar", "enrolado", "capturado"), ("aplazar", "capturado", "aplazado"),
             ("capturar", "aplazado", "capturado"), ("validar", "capturado", "validado"),
             ("solicitar", "validado", "solicitado"), ("imprimir", "solicitado", "imprimiendo"),
             ("recibir", "imprimiendo", "recibido"), ("rechazar_retoma", "recibido", "retoma"),
             ("retomar", "retoma", "rechazado"), ("solicitar", "rechazado", "solicitado"),
             ("imprimir", "solicitado", "imprimiendo"), ("recibir", "imprimiendo", "recibido"),
             ("entregar", "recibido", "entregado")]
    for i, (accion, de, a) in enumerate(story):
        await _event(s["id"], accion, de, a, t + timedelta(hours=7 * i + i * i))
    d1, d2 = date(2026, 9, 1), date(2026, 9, 30)
    assert _tablero_figures(await q.etapas(d1, d2)) == await _independent(d1, d2)


async def test_backfill_equals_the_trigger(app, users):
    """The migration's backfill (the trigger function over every existing event) gives the same tables."""
    await _generated(users, 30)
    tables = ("tablero_etapas", "tablero_actividad", "tablero_ordenes", "tablero_tiempos_orden")
    before = {t: await db.fetch_all(f"SELECT * FROM {t}") for t in tables}
    for t in (*tables, "tablero_hitos"):
        await db.execute(f"DELETE FROM {t}")
    migration = (__import__("pathlib").Path(__file__).parents[1] / "sql/migrations/0013_tablero.sql").read_text()
    backfill = migration[migration.index("CREATE TEMP TABLE tablero_relleno"):]
    async with db.get_db().transaction():
        for stmt in [s for s in backfill.split(";") if s.strip()]:
            await db.execute(stmt)
    await db.execute("SELECT compactar_tablero()")
    for t in tables:
        key = lambda r: tuple(str(v) for v in r.values())  # noqa: E731
        after = await db.fetch_all(f"SELECT * FROM {t}")
        assert _folded(after) == _folded(before[t]), t


def _folded(rows: list[dict]) -> dict:
    """Rows summed by every column but n."""
    out: dict = {}
    for r in rows:
        k = tuple((c, v) for c, v in r.items() if c != "n")
        out[k] = out.get(k, 0) + r["n"]
    return {k: v for k, v in out.items() if v}


async def test_page_shows_the_figures(app, users, signed_in):
    """The estatal page shows the statewide median and p90 of each stage in days."""
    await _generated(users, 40)
    c = await signed_in("estatal")
    r = await c.get("/tablero?desde=2026-09-01&hasta=2026-12-31")
    assert r.status_code == 200
    html = await r.get_data(as_text=True)
    state = (await q.etapas(date(2026, 9, 1), date(2026, 12, 31)))["estatal"]
    row = re.search(r'<tr class="estatal" data-plantel="estatal">(.*?)</tr>', html, re.S).group(1)
    for e, fig in state.items():
        cell = re.search(rf'data-etapa="{e}">(.*?)</td>', row, re.S).group(1)
        assert f"{fig['mediana'] / 24:.1f}" in cell and f"{fig['p90'] / 24:.1f}" in cell and f"({fig['n']})" in cell


# ---- alumnos detenidos ---------------------------------------------------------------------------

async def _waiting(estatus: str, since: datetime, plantel: str = "Ciudad Azteca", grupo: str = "102-ELIN18") -> dict:
    """A student in estatus since the given moment."""
    s = await make_student(estatus, plantel=plantel, grupo=grupo)
    await db.execute("UPDATE alumnos SET fecha_estatus = :f WHERE id = :id", {"f": since, "id": s["id"]})
    return s


@pytest.mark.parametrize("estatus,campo", [(e, c) for e, (_, c) in q.DETENIDOS.items()])
async def test_thresholds_at_their_edges(app, users, estatus, campo):
    """Just under the threshold: not detenido; exactly at it and just over it: detenido (and only that status)."""
    settings = app.config["SETTINGS"]
    ahora = datetime.now(timezone.utc).replace(microsecond=0)
    umbral = timedelta(days=getattr(settings, campo))
    await _waiting(estatus, ahora - umbral + timedelta(seconds=1))   # just under
    await _waiting(estatus, ahora - umbral)                          # at
    await _waiting(estatus, ahora - umbral - timedelta(seconds=1))   # just over
    await _waiting("validado", ahora - umbral - timedelta(days=30))  # not a detenido status
    pid = await plantel_id("Ciudad Azteca")
    counts = await q.detenidos(cortes(settings, ahora))
    assert counts == {pid: {estatus: 2}}
    assert await q.detenidos(cortes(settings, ahora), await plantel_id("Toluca")) == {}
    rows = await q.detenidos_lista(estatus, cortes(settings, ahora)[estatus], pid)
    assert [r["fecha_estatus"] for r in rows] == [ahora - umbral - timedelta(seconds=1), ahora - umbral]


async def test_threshold_comes_from_settings(app, users, signed_in):
    """A different setting moves the edge (the page reads Settings at request time)."""
    settings = app.config["SETTINGS"]
    old = settings.detenido_recibido_dias
    await _waiting("recibido", datetime.now(timezone.utc) - timedelta(days=3, minutes=5))
    c = await signed_in("estatal")
    try:
        settings.detenido_recibido_dias = 3
        html = await (await c.get("/tablero")).get_data(as_text=True)
        assert re.search(r'data-estatus="recibido"><a [^>]*>1</a>', html) and "3 días o más" in html
        settings.detenido_recibido_dias = 4
        html = await (await c.get("/tablero")).get_data(as_text=True)
        assert not re.search(r'data-estatus="recibido"><a ', html)
    finally:
        settings.detenido_recibido_dias = old


async def test_drill_down_per_group_and_excel_audited(app, users, signed_in):
    """Per group counts, the list longest-waiting first, and an Excel of every one, recorded in the audit trail."""
    old = datetime.now(timezone.utc) - timedelta(days=40)
    a = await _waiting("capturado", old, grupo="102-ELIN18")
    b = await _waiting("capturado", old - timedelta(days=1), grupo="202-INFO18")
    await _waiting("capturado", datetime.now(timezone.utc), grupo="202-INFO18")  # recent: not listed
    c = await signed_in("plantel")
    r = await c.get("/tablero/detenidos?estatus=capturado")
    html = await r.get_data(as_text=True)
    assert r.status_code == 200
    assert re.findall(r'data-grupo="([^"]+)"', html) == ["102-ELIN18", "202-INFO18"]
    assert re.findall(r'data-matricula="([^"]+)"', html) == [b["matricula"], a["matricula"]]
    r = await c.get("/tablero/detenidos?estatus=capturado&grupo=202-INFO18")
    assert re.findall(r'data-matricula="([^"]+)"', await r.get_data(as_text=True)) == [b["matricula"]]
    r = await c.get("/tablero/detenidos.xlsx?estatus=capturado")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(await r.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Matrícula" and [x[0] for x in rows[1:]] == [b["matricula"], a["matricula"]]
    assert rows[1][7] == "Capturado" and rows[1][9] == 41
    audit = await db.fetch_all("SELECT recurso, plantel_id, detalle FROM accesos_sensibles")
    assert audit == [{"recurso": "excel_detenidos", "plantel_id": users["plantel"]["plantel_id"], "detalle": "capturado"}]


# ---- scope and hostile input ---------------------------------------------------------------------

async def test_plantel_sees_only_its_own(app, users, signed_in):
    """A plantel user's Tablero has its plantel only; another plantel's id is refused everywhere."""
    old = datetime.now(timezone.utc) - timedelta(days=40)
    await _waiting("capturado", old, plantel="Ciudad Azteca")
    await _waiting("aplazado", old, plantel="Toluca")
    c = await signed_in("plantel")
    html = await (await c.get("/tablero")).get_data(as_text=True)
    own, other = users["plantel"]["plantel_id"], users["plantel_b"]["plantel_id"]
    assert set(re.findall(r'<tr data-plantel="(\d+)"', html)) == {str(own)}
    assert 'data-plantel="estatal"' not in html and "Toluca" not in html and "Conciliación" not in html
    assert "Avance por grupo" in html
    for url in (f"/tablero?plantel={other}", f"/tablero/detenidos?estatus=aplazado&plantel={other}",
                f"/tablero/detenidos.xlsx?estatus=aplazado&plantel={other}"):
        r = await c.get(url)
        assert r.status_code == 403 and "su plantel" in await r.get_data(as_text=True), url
    e = await signed_in("estatal")
    html = await (await e.get("/tablero")).get_data(as_text=True)
    assert {str(own), str(other)} <= set(re.findall(r'<tr data-plantel="(\d+)"', html))
    assert "Conciliación de órdenes" in html and 'data-plantel="estatal"' in html
    html = await (await e.get(f"/tablero?plantel={other}")).get_data(as_text=True)
    assert set(re.findall(r'<tr data-plantel="(\d+)"', html)) == {str(other)}
    assert (await (await signed_in("empresa")).get("/tablero")).status_code == 403


@pytest.mark.parametrize("query,message", [
    ("desde=ayer", "no es válida"), ("hasta=2026-02-30", "no es válida"), ("desde=2026-13-01", "no es válida"),
    ("desde=20260801", "no es válida"), ("desde=" + "9" * 5000, "no es válida"), ("desde=2026-08-01%00", "caracteres no permitidos"),
    ("desde=2026-10-01&hasta=2026-09-01", "anterior o igual"), ("desde=2000-01-01&hasta=2026-01-01", "a lo más 731 días"),
    ("desde=0001-01-01", "año 2000"), ("hasta=9999-12-31", "año 2000"), ("desde=-2026-01-01", "no es válida"),
    ("desde=2026-08-01'%3B--", "no es válida"),
])
async def test_bad_periods_are_spanish_400s(app, users, signed_in, query, message):
    """Bad dates and huge ranges: the form again with a Spanish message and status 400, never a 500."""
    c = await signed_in("estatal")
    r = await c.get("/tablero?" + query)
    body = await r.get_data(as_text=True)
    assert r.status_code == 400, (query, r.status_code)
    assert message in body and 'role="alert"' in body


@pytest.mark.parametrize("url", [
    "/tablero?plantel=abc", "/tablero?plantel=0", "/tablero?plantel=99999999999999", "/tablero?plantel=999999",
    "/tablero/detenidos", "/tablero/detenidos?estatus=validado&plantel=1", "/tablero/detenidos?estatus=capturado",
    "/tablero/detenidos.xlsx?estatus=%00", "/tablero/detenidos?estatus=capturado&plantel=1&grupo=" + "x" * 3000,
])
async def test_hostile_parameters_never_500(app, users, signed_in, url):
    """Malformed plantel ids, statuses and groups end in a Spanish 4xx (or an empty page), never a 5xx."""
    c = await signed_in("estatal")
    r = await c.get(url)
    assert r.status_code < 500
    if r.status_code >= 400:
        assert re.search(r"plantel|Elija|caracteres", await r.get_data(as_text=True))


# ---- activity charts and groups ------------------------------------------------------------------

async def test_activity_charts_count_each_day(app, users, signed_in):
    """Captures, validations, receptions and deliveries per local day in SVG (no inline style) with a data table."""
    hoy = datetime.now(MX).date()
    s = await make_student("enrolado")
    noon = lambda d: datetime(d.year, d.month, d.day, 12, tzinfo=MX)  # noqa: E731
    for accion, de, a, when in (("capturar", "enrolado", "capturado", noon(hoy - timedelta(days=3))),
                                ("capturar", "capturado", "capturado", noon(hoy - timedelta(days=3))),
                                ("validar", "capturado", "validado", noon(hoy - timedelta(days=2))),
                                ("recibir", "imprimiendo", "recibido", noon(hoy - timedelta(days=1))),
                                ("entregar", "recibido", "entregado", noon(hoy)),
                                ("capturar", "enrolado", "capturado", noon(hoy - timedelta(days=70)))):
        await _event(s["id"], accion, de, a, when)
    act = await q.actividad(hoy - timedelta(days=59))
    assert dict(act["capturas"]) == {hoy - timedelta(days=3): 2}
    assert dict(act["validaciones"]) == {hoy - timedelta(days=2): 1}
    assert dict(act["recibidas"]) == {hoy - timedelta(days=1): 1} and dict(act["entregas"]) == {hoy: 1}
    c = await signed_in("plantel")
    html = await (await c.get("/tablero")).get_data(as_text=True)
    assert html.count("<svg viewBox=\"0 0 640 220\"") == 4 and "style=" not in html.split("<main", 1)[1]
    cap = html[html.index('data-serie="capturas"'):html.index('data-serie="validaciones"')]
    assert cap.count("<rect ") == 1 and "Capturas de biométricos: 2 en 60 días" in cap
    assert cap.count("<tr><td>") == 60 and '<td class="num">2</td>' in cap


async def test_group_progress(app, users, signed_in):
    """Per group: alumnos, capturados (past Enrolado), validados (past validation) and entregados."""
    for est in ("enrolado", "capturado", "aplazado", "validado", "recibido", "entregado", "retoma"):
        await make_student(est, grupo="102-ELIN18")
    await make_student("entregado", grupo="302-INFO18")
    rows = await q.grupos(users["plantel"]["plantel_id"])
    assert rows == [{"grupo": "102-ELIN18", "alumnos": 7, "capturados": 6, "validados": 4, "entregados": 1},
                    {"grupo": "302-INFO18", "alumnos": 1, "capturados": 1, "validados": 1, "entregados": 1}]
    html = await (await (await signed_in("plantel")).get("/tablero")).get_data(as_text=True)
    assert 'data-grupo="102-ELIN18"' in html and "Avance por grupo" in html


# ---- conciliación de órdenes ---------------------------------------------------------------------

async def _order_story(users) -> tuple[int, int, list[dict]]:
    """Order 1: 4 cards; 3 received, 1 rejected at reception, 1 rejected later by the plantel, 1 delivered;
    order 2 reprints the 2 rejected ones. Through the app's own services and status machine."""
    from .conftest import add_image

    st = [await make_student("validado") for _ in range(4)]
    estatal, empresa, plantel = actor(users["estatal"]), actor(users["empresa"]), actor(users["plantel"])
    pid = users["plantel"]["plantel_id"]
    o1 = (await orders.crear(estatal, [pid], False, empresa_id=1)).orden_id
    await orders.marcar(o1, "en_impresion", empresa)
    for s in st[:3]:
        await orders.recibir_matricula(o1, s["matricula"], estatal)
    await orders.rechazar_recepcion(o1, st[3]["matricula"], "Faltante", estatal)
    await transition(st[2]["id"], "rechazar", plantel, comment="Deficiencia en color", orden_id=o1)
    firma = await add_image(st[0]["id"], "firma_entrega")
    await transition(st[0]["id"], "entregar", plantel,
                     changes={"firma_entrega_id": firma, "fecha_entrega": datetime.now(timezone.utc)})
    o2 = (await orders.crear(estatal, [pid], True, empresa_id=1)).orden_id
    return o1, o2, st


async def test_reconciliation_per_order_and_company(app, users):
    """Counts per order, the defect rate, the lead time, and sums per company and month."""
    o1, o2, _ = await _order_story(users)
    rows = {r["id"]: r for r in await q.conciliacion_ordenes()}
    assert {c: rows[o1][c] for c in q.CONCEPTOS} == {"enviadas": 4, "recibidas": 3, "rechazadas_recepcion": 1,
                                                      "rechazadas_plantel": 1, "reimpresas": 2, "entregadas": 1}
    assert rows[o1]["tasa_defectos"] == 50.0 and rows[o1]["tiempo"] == {"n": 3, "mediana": 0, "p90": 0}
    assert {c: rows[o2][c] for c in q.CONCEPTOS} == {"enviadas": 2, "recibidas": 0, "rechazadas_recepcion": 0,
                                                      "rechazadas_plantel": 0, "reimpresas": 0, "entregadas": 0}
    c = await q.conciliacion(MX)
    assert len(c["empresas"]) == 1 and c["empresas"][0]["enviadas"] == 6 and c["empresas"][0]["tasa_defectos"] == 33.3
    assert [m["mes"] for m in c["meses"]] == [datetime.now(MX).strftime("%Y-%m")]
    expected = await db.fetch_all(  # independent: from eventos, by the orden_id the events carry
        """SELECT orden_id, count(*) FILTER (WHERE accion = 'solicitar')::int AS enviadas,
                  count(*) FILTER (WHERE accion = 'recibir')::int AS recibidas,
                  count(*) FILTER (WHERE accion = 'rechazar_recepcion')::int AS rechazadas_recepcion,
                  count(*) FILTER (WHERE accion IN ('rechazar', 'rechazar_retoma'))::int AS rechazadas_plantel
           FROM eventos WHERE orden_id IS NOT NULL GROUP BY orden_id""")
    for e in expected:
        assert all(rows[e["orden_id"]][k] == v for k, v in e.items() if k != "orden_id")


async def test_reconciliation_on_order_pages_and_excel(app, users, signed_in):
    """Seguimiento and the order page include the partial; the Excel file holds the same figures."""
    o1, o2, _ = await _order_story(users)
    c = await signed_in("estatal")
    html = await (await c.get("/ordenes/seguimiento")).get_data(as_text=True)
    assert "Conciliación de órdenes" in html and f'data-orden="{o1}"' in html and "Por empresa" in html
    html = await (await c.get(f"/ordenes/{o1}")).get_data(as_text=True)
    row = re.search(rf'<tr data-orden="{o1}">(.*?)</tr>', html, re.S).group(1)
    assert '<td class="num" data-c="reimpresas">2</td>' in row and "50.0 %" in row
    assert f'data-orden="{o2}"' not in html.split('id="conciliacion"', 1)[1]
    html = await (await (await signed_in("empresa")).get(f"/ordenes/{o1}")).get_data(as_text=True)
    assert "Conciliación de la orden" in html and "conciliacion.xlsx" not in html
    r = await c.get("/tablero/conciliacion.xlsx")
    assert r.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(await r.get_data())).active.iter_rows(values_only=True))
    by_name = {x[0]: x for x in rows if x and x[0]}
    assert by_name[f"Orden {o1}"][3:10] == (4, 3, 1, 1, 2, 1, 50)
    assert by_name["Todas las órdenes"][3] == 6


async def test_compaction_keeps_the_figures(app, users, monkeypatch):
    """Live single-event deltas fold into one row per key once enough accumulate; the figures do not change."""
    monkeypatch.setattr(q, "COMPACT_AFTER", 3)
    s = await make_student("enrolado")
    now = datetime.now(timezone.utc)
    for i in range(6):
        await _event(s["id"], "capturar", "enrolado" if i == 0 else "capturado", "capturado", now)
    hoy = datetime.now(MX).date()
    before = dict((await q.actividad(hoy))["capturas"])
    assert await db.fetch_val("SELECT count(*) FROM tablero_actividad") == 6
    assert await q.compactar_si_hace_falta(hoy) and not await q.compactar_si_hace_falta(hoy)
    assert await db.fetch_val("SELECT count(*) FROM tablero_actividad") == 1
    assert dict((await q.actividad(hoy))["capturas"]) == before == {hoy: 6}
