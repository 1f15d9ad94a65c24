-- 0013: the Tablero (issue 15): time in each stage, daily activity and print-order reconciliation,
-- kept exact by one statement-level trigger on eventos (docs/tablero.md).
--
-- Reading 1.9 M events on every Tablero load costs seconds; these tables cost milliseconds.
-- Like 0006 they are append-only: a trigger never updates a shared counter row (that would lock it
-- until commit and queue two long transactions such as a print order and an SAE import), it inserts
-- deltas that the Tablero sums and now and then folds back (compactar_tablero()). The only updated
-- rows are per student (tablero_hitos), which the status machine already serialises by its row lock.
LOCK TABLE eventos IN SHARE ROW EXCLUSIVE MODE;

-- When each student first reached each milestone status (first wins), and its latest Solicitado.
CREATE TABLE tablero_hitos (
  alumno_id          bigint PRIMARY KEY,
  enrolado           timestamptz,
  capturado          timestamptz,
  validado           timestamptz,
  solicitado         timestamptz,
  recibido           timestamptz,
  entregado          timestamptz,
  solicitado_ultimo  timestamptz
);

-- Stage durations as a histogram: how many students of a plantel finished stage `etapa` on local day
-- `dia` after `horas` whole hours (1 Enrolado→Capturado, 2 Capturado→Validado, 3 Validado→Solicitado,
-- 4 Solicitado→Recibido, 5 Recibido→Entregado, 6 Enrolado→Entregado). Percentiles over whole hours
-- are exact from these counts.
CREATE TABLE tablero_etapas (
  plantel_id  integer NOT NULL,
  etapa       smallint NOT NULL CHECK (etapa BETWEEN 1 AND 6),
  dia         date NOT NULL,
  horas       integer NOT NULL,
  n           integer NOT NULL
);
CREATE INDEX tablero_etapas_dia ON tablero_etapas (dia, plantel_id) INCLUDE (etapa, horas, n);

-- Events per plantel, local day and action (captures, validations, receptions, deliveries).
CREATE TABLE tablero_actividad (
  plantel_id  integer NOT NULL,
  dia         date NOT NULL,
  accion      text NOT NULL,
  n           integer NOT NULL
);
CREATE INDEX tablero_actividad_dia ON tablero_actividad (dia, plantel_id) INCLUDE (accion, n);

-- Per print order: enviadas, recibidas, rechazadas_recepcion, rechazadas_plantel, reimpresas, entregadas.
CREATE TABLE tablero_ordenes (
  orden_id  integer NOT NULL,
  concepto  text NOT NULL,
  n         integer NOT NULL
);
CREATE INDEX tablero_ordenes_orden ON tablero_ordenes (orden_id) INCLUDE (concepto, n);

-- Per print order: cards received after `horas` whole hours since their Solicitado.
CREATE TABLE tablero_tiempos_orden (
  orden_id  integer NOT NULL,
  horas     integer NOT NULL,
  n         integer NOT NULL
);
CREATE INDEX tablero_tiempos_orden_orden ON tablero_tiempos_orden (orden_id) INCLUDE (horas, n);

-- Alumnos detenidos: students waiting in these statuses, read by status and age.
CREATE INDEX alumnos_detenidos ON alumnos (estatus, fecha_estatus) INCLUDE (plantel_id)
  WHERE estatus IN ('capturado', 'aplazado', 'retoma', 'recibido');

-- Absorb a batch of new events (the transition table `nuevos`): one call per INSERT or COPY statement.
CREATE FUNCTION tablero_eventos_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tablero_actividad (plantel_id, dia, accion, n)
  SELECT a.plantel_id, (e.en AT TIME ZONE 'America/Mexico_City')::date, e.accion, count(*)
  FROM nuevos e JOIN alumnos a ON a.id = e.alumno_id
  WHERE e.accion IN ('capturar', 'retomar', 'validar', 'recibir', 'entregar')
  GROUP BY 1, 2, 3;

  -- The order a card event belongs to: the event's own, else the student's (entregar carries none);
  -- a reprint (Rechazado → Solicitado) counts for the order whose card was rejected.
  INSERT INTO tablero_ordenes (orden_id, concepto, n)
  SELECT orden_id, concepto, count(*) FROM (
    SELECT coalesce(e.orden_id, a.orden_id) AS orden_id,
           CASE e.accion WHEN 'solicitar' THEN 'enviadas' WHEN 'recibir' THEN 'recibidas'
                         WHEN 'rechazar_recepcion' THEN 'rechazadas_recepcion'
                         WHEN 'entregar' THEN 'entregadas' ELSE 'rechazadas_plantel' END AS concepto
    FROM nuevos e JOIN alumnos a ON a.id = e.alumno_id
    WHERE e.accion IN ('solicitar', 'recibir', 'rechazar_recepcion', 'rechazar', 'rechazar_retoma', 'entregar')
    UNION ALL
    SELECT p.orden_id, 'reimpresas'
    FROM nuevos e CROSS JOIN LATERAL (
      SELECT x.orden_id FROM eventos x
      WHERE x.alumno_id = e.alumno_id AND x.en <= e.en AND x.id <> e.id AND x.orden_id IS NOT NULL
      ORDER BY x.en DESC, x.id DESC LIMIT 1) p
    WHERE e.accion = 'solicitar' AND e.de = 'rechazado'
  ) c WHERE orden_id IS NOT NULL
  GROUP BY 1, 2;

  -- Lead time of each received card: since the student's latest Solicitado before it.
  INSERT INTO tablero_tiempos_orden (orden_id, horas, n)
  SELECT r.orden_id, floor(extract(epoch FROM r.en - coalesce(r.sol, h.solicitado_ultimo)) / 3600)::int, count(*)
  FROM (SELECT e.alumno_id, e.accion, e.en, e.orden_id,
               max(e.en) FILTER (WHERE e.accion = 'solicitar') OVER (PARTITION BY e.alumno_id ORDER BY e.en, e.id) AS sol
        FROM nuevos e WHERE e.accion IN ('solicitar', 'recibir')) r
  LEFT JOIN tablero_hitos h ON h.alumno_id = r.alumno_id
  WHERE r.accion = 'recibir' AND r.orden_id IS NOT NULL AND coalesce(r.sol, h.solicitado_ultimo) IS NOT NULL
  GROUP BY 1, 2;

  -- Milestones, then one histogram entry for every stage whose end was reached for the first time.
  WITH lote AS (
    SELECT alumno_id,
           min(en) FILTER (WHERE a = 'enrolado') AS enrolado, min(en) FILTER (WHERE a = 'capturado') AS capturado,
           min(en) FILTER (WHERE a = 'validado') AS validado, min(en) FILTER (WHERE a = 'solicitado') AS solicitado,
           min(en) FILTER (WHERE a = 'recibido') AS recibido, min(en) FILTER (WHERE a = 'entregado') AS entregado,
           max(en) FILTER (WHERE a = 'solicitado') AS solicitado_ultimo
    FROM nuevos WHERE a IN ('enrolado', 'capturado', 'validado', 'solicitado', 'recibido', 'entregado')
    GROUP BY alumno_id
  ), antes AS (
    SELECT h.* FROM tablero_hitos h JOIN lote l ON l.alumno_id = h.alumno_id
  ), puestos AS (
    INSERT INTO tablero_hitos AS h (alumno_id, enrolado, capturado, validado, solicitado, recibido, entregado,
                                    solicitado_ultimo)
    SELECT alumno_id, enrolado, capturado, validado, solicitado, recibido, entregado, solicitado_ultimo FROM lote
    ON CONFLICT (alumno_id) DO UPDATE SET
      enrolado = coalesce(h.enrolado, excluded.enrolado), capturado = coalesce(h.capturado, excluded.capturado),
      validado = coalesce(h.validado, excluded.validado), solicitado = coalesce(h.solicitado, excluded.solicitado),
      recibido = coalesce(h.recibido, excluded.recibido), entregado = coalesce(h.entregado, excluded.entregado),
      solicitado_ultimo = greatest(h.solicitado_ultimo, excluded.solicitado_ultimo)
    RETURNING h.*
  )
  INSERT INTO tablero_etapas (plantel_id, etapa, dia, horas, n)
  SELECT a.plantel_id, s.etapa, (s.fin AT TIME ZONE 'America/Mexico_City')::date,
         floor(extract(epoch FROM s.fin - s.inicio) / 3600)::int, count(*)
  FROM puestos p LEFT JOIN antes o ON o.alumno_id = p.alumno_id JOIN alumnos a ON a.id = p.alumno_id
  CROSS JOIN LATERAL (VALUES (1::smallint, p.enrolado, p.capturado, o.capturado),
                             (2::smallint, p.capturado, p.validado, o.validado),
                             (3::smallint, p.validado, p.solicitado, o.solicitado),
                             (4::smallint, p.solicitado, p.recibido, o.recibido),
                             (5::smallint, p.recibido, p.entregado, o.entregado),
                             (6::smallint, p.enrolado, p.entregado, o.entregado)) s(etapa, inicio, fin, fin_antes)
  WHERE s.fin IS NOT NULL AND s.fin_antes IS NULL AND s.inicio IS NOT NULL AND s.fin >= s.inicio
  GROUP BY 1, 2, 3, 4;
  RETURN NULL;
END $$;

CREATE FUNCTION tablero_eventos_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM tablero_hitos;
  DELETE FROM tablero_etapas;
  DELETE FROM tablero_actividad;
  DELETE FROM tablero_ordenes;
  DELETE FROM tablero_tiempos_orden;
  RETURN NULL;
END $$;

CREATE TRIGGER eventos_tablero_insert AFTER INSERT ON eventos
  REFERENCING NEW TABLE AS nuevos FOR EACH STATEMENT EXECUTE FUNCTION tablero_eventos_insert();
CREATE TRIGGER eventos_tablero_truncate AFTER TRUNCATE ON eventos
  FOR EACH STATEMENT EXECUTE FUNCTION tablero_eventos_truncate();

-- Fold the deltas into one row per key (safe while others write, as compactar_conteo_estatus()).
CREATE FUNCTION compactar_tablero() RETURNS void LANGUAGE sql AS $$
  WITH v AS (DELETE FROM tablero_etapas RETURNING *)
  INSERT INTO tablero_etapas SELECT plantel_id, etapa, dia, horas, sum(n) FROM v GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0;
  WITH v AS (DELETE FROM tablero_actividad RETURNING *)
  INSERT INTO tablero_actividad SELECT plantel_id, dia, accion, sum(n) FROM v GROUP BY 1, 2, 3 HAVING sum(n) <> 0;
  WITH v AS (DELETE FROM tablero_ordenes RETURNING *)
  INSERT INTO tablero_ordenes SELECT orden_id, concepto, sum(n) FROM v GROUP BY 1, 2 HAVING sum(n) <> 0;
  WITH v AS (DELETE FROM tablero_tiempos_orden RETURNING *)
  INSERT INTO tablero_tiempos_orden SELECT orden_id, horas, sum(n) FROM v GROUP BY 1, 2 HAVING sum(n) <> 0;
$$;

-- The history so far: the same trigger function over every existing event, through a scratch table.
CREATE TEMP TABLE tablero_relleno (LIKE eventos) ON COMMIT DROP;
CREATE TRIGGER tablero_relleno AFTER INSERT ON tablero_relleno
  REFERENCING NEW TABLE AS nuevos FOR EACH STATEMENT EXECUTE FUNCTION tablero_eventos_insert();
INSERT INTO tablero_relleno SELECT * FROM eventos;
