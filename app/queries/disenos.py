"""SQL of the credential's design versions (disenos_credencial) and the orders printed with each."""
from __future__ import annotations

from .. import db

COLUMNS = ("institucion", "institucion_2", "leyenda", "leyenda_qr", "color_banda", "color_texto",
           "director_nombre", "director_cargo", "logo_png", "firma_director_png")


async def latest() -> dict | None:
    """The current version (the newest), or None when there is none."""
    return await db.fetch_one("SELECT * FROM disenos_credencial ORDER BY id DESC LIMIT 1")


async def by_id(version: int) -> dict | None:
    """One version, or None."""
    return await db.fetch_one("SELECT * FROM disenos_credencial WHERE id = :v", {"v": version})


async def of_order(orden_id: int) -> dict | None:
    """The version an order was printed with (None for an unknown order)."""
    return await db.fetch_one(
        "SELECT d.* FROM ordenes_impresion o JOIN disenos_credencial d ON d.id = o.diseno_id WHERE o.id = :o",
        {"o": orden_id})


async def versions() -> list[dict]:
    """Every version, newest first, with who made it and how many orders and temporary credentials use it."""
    return await db.fetch_all(
        """SELECT d.id, d.creada_en, d.nota, d.institucion, d.director_nombre, u.email AS creada_por,
                  (SELECT count(*) FROM ordenes_impresion o WHERE o.diseno_id = d.id) AS ordenes,
                  (SELECT count(*) FROM credenciales_temporales t WHERE t.diseno_id = d.id) AS temporales
           FROM disenos_credencial d LEFT JOIN usuarios u ON u.id = d.creada_por
           ORDER BY d.id DESC""")


async def insert(values: dict, nota: str, usuario_id: int) -> int:
    """Insert the next version; its number (an empty image is stored as NULL: the placeholder or nothing)."""
    cols = ", ".join(COLUMNS)
    return await db.fetch_val(
        f"""INSERT INTO disenos_credencial ({cols}, nota, creada_por)
            VALUES ({', '.join(':' + c for c in COLUMNS)}, :nota, :u) RETURNING id""",
        {**{c: None if values[c] == b"" else values[c] for c in COLUMNS}, "nota": nota, "u": usuario_id})
