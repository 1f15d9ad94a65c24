-- 0006: live per-plantel status counts for "Reporte de estatus por Plantel".
-- Counting 500,000 students on every home page costs as much as the bare GROUP BY (≈30–60 ms on
-- 2 cores) before the page is even rendered; these counts cost ≈1 ms (docs/benchmarks.md).
--
-- Append-only deltas, not one row per (plantel, estatus) updated in place: an UPDATE of a shared
-- counter row would lock it until commit, so two long transactions (an SAE import, a print order)
-- touching the same planteles would queue or deadlock. Inserting deltas never blocks anyone.
-- The report sums the deltas and folds them back into one row per group now and then
-- (app/queries/report.py, compactar_conteo_estatus()).
LOCK TABLE alumnos IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE conteo_estatus (
  plantel_id  integer NOT NULL,
  estatus     estatus NOT NULL,
  n           integer NOT NULL
);

-- Statement-level triggers with transition tables: one INSERT per statement, even for a COPY of
-- 500,000 rows. An UPDATE adds +1 for the new (plantel, estatus) and -1 for the old one;
-- unchanged rows cancel out and add nothing.
CREATE FUNCTION conteo_estatus_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conteo_estatus (plantel_id, estatus, n)
  SELECT plantel_id, estatus, count(*) FROM nuevos GROUP BY plantel_id, estatus;
  RETURN NULL;
END $$;

CREATE FUNCTION conteo_estatus_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conteo_estatus (plantel_id, estatus, n)
  SELECT plantel_id, estatus, -count(*) FROM viejos GROUP BY plantel_id, estatus;
  RETURN NULL;
END $$;

CREATE FUNCTION conteo_estatus_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conteo_estatus (plantel_id, estatus, n)
  SELECT plantel_id, estatus, sum(d) FROM (
    SELECT plantel_id, estatus, 1 AS d FROM nuevos
    UNION ALL
    SELECT plantel_id, estatus, -1 FROM viejos
  ) c GROUP BY plantel_id, estatus HAVING sum(d) <> 0;
  RETURN NULL;
END $$;

CREATE FUNCTION conteo_estatus_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM conteo_estatus;
  RETURN NULL;
END $$;

CREATE TRIGGER alumnos_conteo_insert AFTER INSERT ON alumnos
  REFERENCING NEW TABLE AS nuevos FOR EACH STATEMENT EXECUTE FUNCTION conteo_estatus_insert();
CREATE TRIGGER alumnos_conteo_delete AFTER DELETE ON alumnos
  REFERENCING OLD TABLE AS viejos FOR EACH STATEMENT EXECUTE FUNCTION conteo_estatus_delete();
CREATE TRIGGER alumnos_conteo_update AFTER UPDATE ON alumnos
  REFERENCING OLD TABLE AS viejos NEW TABLE AS nuevos FOR EACH STATEMENT EXECUTE FUNCTION conteo_estatus_update();
CREATE TRIGGER alumnos_conteo_truncate AFTER TRUNCATE ON alumnos
  FOR EACH STATEMENT EXECUTE FUNCTION conteo_estatus_truncate();

-- Fold the deltas into one row per (plantel, estatus). Safe while others write: rows inserted by
-- transactions not yet committed are not seen, so they are neither deleted nor summed.
CREATE FUNCTION compactar_conteo_estatus() RETURNS void LANGUAGE sql AS $$
  WITH viejos AS (DELETE FROM conteo_estatus RETURNING plantel_id, estatus, n)
  INSERT INTO conteo_estatus (plantel_id, estatus, n)
  SELECT plantel_id, estatus, sum(n) FROM viejos GROUP BY plantel_id, estatus HAVING sum(n) <> 0
$$;

INSERT INTO conteo_estatus (plantel_id, estatus, n)
SELECT plantel_id, estatus, count(*) FROM alumnos GROUP BY plantel_id, estatus;
