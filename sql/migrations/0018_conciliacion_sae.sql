-- 0018: Conciliación SAE (issue 14, docs/sae.md). Loading an SAE export computes one reconciliation
-- run (set-based: one INSERT … SELECT over the snapshot and alumnos); nothing reaches alumnos until a
-- user applies it ("Aplicar"), student by student through app/sae.py's import/update rules.

-- The SAE baja mark is migration 0017's alumnos.baja_en (retention/purge, with its partial index); this
-- line is a no-op after it and only keeps 0018 self-contained.
ALTER TABLE alumnos ADD COLUMN IF NOT EXISTS baja_en timestamptz;

-- One run: when, who (NULL = the command line), from what, and how long the diff took.
CREATE TABLE conciliaciones (
  id           serial PRIMARY KEY,
  creada_en    timestamptz NOT NULL DEFAULT now(),
  usuario_id   integer REFERENCES usuarios(id) ON DELETE SET NULL,
  origen       text NOT NULL DEFAULT '',          -- e.g. "load-sae exportacion.csv"
  completa     boolean NOT NULL DEFAULT false,    -- the snapshot is SAE's whole roll (--reemplazar)
  filas_sae    integer NOT NULL DEFAULT 0,        -- snapshot rows compared
  duracion_ms  integer NOT NULL DEFAULT 0
);

-- One finding: a student new in SAE, a change of group, career or plantel, a baja, a reappearance.
-- plantel_id is the plantel responsible for acting: SAE's for new students and changes (the destination
-- of a plantel change), the credential database's for bajas and reappearances.
CREATE TABLE conciliacion_alumnos (
  conciliacion_id  integer NOT NULL REFERENCES conciliaciones(id) ON DELETE CASCADE,
  tipo             text NOT NULL CHECK (tipo IN ('nuevo', 'grupo', 'carrera', 'plantel', 'baja', 'reaparecido')),
  matricula        text NOT NULL,
  alumno_id        bigint REFERENCES alumnos(id) ON DELETE SET NULL,
  plantel_id       integer REFERENCES planteles(id),
  nombre           text NOT NULL DEFAULT '',      -- "PRIMER SEGUNDO NOMBRE" as shown
  antes            text NOT NULL DEFAULT '',      -- credential database value (grupo, carrera, plantel)
  despues          text NOT NULL DEFAULT '',      -- SAE value
  estatus          estatus,                       -- the student's status when the run was computed
  resultado        text CHECK (resultado IN ('aplicado', 'no_aplicable')),
  motivo           text NOT NULL DEFAULT '',
  aplicado_en      timestamptz,
  aplicado_por     integer REFERENCES usuarios(id) ON DELETE SET NULL,
  PRIMARY KEY (conciliacion_id, tipo, matricula)
);
CREATE INDEX conciliacion_alumnos_plantel ON conciliacion_alumnos (conciliacion_id, plantel_id, tipo);

-- One "Aplicar" (per plantel or all): who, when, scope and outcome counts.
CREATE TABLE conciliacion_aplicaciones (
  id               serial PRIMARY KEY,
  conciliacion_id  integer NOT NULL REFERENCES conciliaciones(id) ON DELETE CASCADE,
  en               timestamptz NOT NULL DEFAULT now(),
  usuario_id       integer REFERENCES usuarios(id) ON DELETE SET NULL,
  plantel_id       integer REFERENCES planteles(id),  -- NULL: every plantel
  aplicados        integer NOT NULL DEFAULT 0,
  no_aplicables    integer NOT NULL DEFAULT 0
);
