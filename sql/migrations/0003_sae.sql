-- 0003: the SAE snapshot (the `file` SAE source) and prefix-search indexes for "Consultar alumno".
-- Rows are stored as SAE exports them (text as sent): the checks of app/students.normalize run when
-- a student is looked up, so a mistyped CURP from SAE is kept and flagged, never dropped.

CREATE TABLE sae_alumnos (
  matricula          text PRIMARY KEY CHECK (matricula ~ '^[0-9]{8,9}-[0-9]$'),
  prematricula       text NOT NULL DEFAULT '',
  curp               text NOT NULL DEFAULT '',
  folio              text NOT NULL DEFAULT '',
  nombre             text NOT NULL DEFAULT '',
  primer_apellido    text NOT NULL DEFAULT '',
  segundo_apellido   text NOT NULL DEFAULT '',
  plantel            text NOT NULL DEFAULT '',   -- name or CCT, as SAE sends it
  grupo              text NOT NULL DEFAULT '',
  carrera            text NOT NULL DEFAULT '',   -- e.g. ATRO18 (career code + curriculum)
  correo             text NOT NULL DEFAULT '',
  institucion_medica text NOT NULL DEFAULT '',
  semestre           smallint CHECK (semestre BETWEEN 1 AND 12),
  inscrito           boolean NOT NULL DEFAULT true,
  estatus_sae        text NOT NULL DEFAULT 'INSCRITO', -- SAE's own enrolment status (INSCRITO, BAJA…)
  cargado_en         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sae_alumnos_curp ON sae_alumnos (curp);

-- Prefix search by matrícula and CURP (name prefix uses alumnos_busqueda from 0001).
CREATE INDEX alumnos_matricula_prefijo ON alumnos (matricula text_pattern_ops);
CREATE INDEX alumnos_curp_prefijo ON alumnos (curp text_pattern_ops);
