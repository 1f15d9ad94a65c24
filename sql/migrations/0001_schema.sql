-- 0001: the data model of the credential process (see docs/architecture.md).
-- Forward-only: never edit an applied migration; add a new numbered file.

-- Statuses in the report's column order (domain.md). An enum makes any other value impossible.
CREATE TYPE estatus AS ENUM (
  'enrolado', 'aplazado', 'capturado', 'validado', 'solicitado',
  'rechazado', 'retoma', 'imprimiendo', 'recibido', 'entregado'
);

CREATE TYPE rol AS ENUM ('plantel', 'estatal', 'empresa', 'admin');

CREATE TYPE biometrico_tipo AS ENUM ('foto', 'firma', 'firma_entrega');

-- Accent- and case-folding used by name search (no unaccent extension in every cluster).
CREATE FUNCTION fold(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT
RETURN upper(translate(t, 'ÁÉÍÓÚÜÑáéíóúüñÀÈÌÒÙàèìòù', 'AEIOUUNaeiouunAEIOUaeiou'));

CREATE TABLE planteles (
  id        serial PRIMARY KEY,
  numero    integer NOT NULL,
  nombre    text NOT NULL UNIQUE CHECK (nombre <> ''),
  cct       text NOT NULL UNIQUE CHECK (cct ~ '^[0-9]{2}[A-Z]{3}[0-9]{4}[A-Z]$')
);

CREATE TABLE carreras (
  codigo  text PRIMARY KEY CHECK (codigo ~ '^[A-Z]{4}$'),
  nombre  text NOT NULL
);

CREATE TABLE instituciones_medicas (
  clave    text PRIMARY KEY,
  nombre   text NOT NULL UNIQUE,
  vigente  boolean NOT NULL DEFAULT true
);

-- A group belongs to one plantel; its key is e.g. '102-ELIN18'.
CREATE TABLE grupos (
  plantel_id  integer NOT NULL REFERENCES planteles(id),
  clave       text NOT NULL CHECK (clave ~ '^[0-9]{3}-[A-Z]{4}[0-9]{2}$'),
  PRIMARY KEY (plantel_id, clave)
);

CREATE TABLE usuarios (
  id             serial PRIMARY KEY,
  email          text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
  nombre         text NOT NULL DEFAULT '',
  password_hash  text NOT NULL,
  rol            rol NOT NULL,
  plantel_id     integer REFERENCES planteles(id),
  activo         boolean NOT NULL DEFAULT true,
  -- bumped on password change: every session holding the old value ends
  sesion_version integer NOT NULL DEFAULT 1,
  creado_en      timestamptz NOT NULL DEFAULT now(),
  CHECK ((rol = 'plantel') = (plantel_id IS NOT NULL))
);
CREATE UNIQUE INDEX usuarios_email ON usuarios (email);

CREATE TABLE intentos_acceso (
  id        bigserial PRIMARY KEY,
  email     text NOT NULL,
  ip        text NOT NULL,
  exito     boolean NOT NULL,
  en        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX intentos_acceso_email ON intentos_acceso (email, en);
CREATE INDEX intentos_acceso_ip ON intentos_acceso (ip, en);

CREATE TABLE recuperaciones (
  token_sha256  text PRIMARY KEY,
  usuario_id    integer NOT NULL REFERENCES usuarios(id),
  expira_en     timestamptz NOT NULL,
  usado_en      timestamptz
);

-- Print orders: numbered 1, 2, … ("Orden de impresión").
CREATE TYPE orden_estado AS ENUM ('solicitada', 'en_impresion', 'enviada', 'recibida');

CREATE TABLE ordenes_impresion (
  id          serial PRIMARY KEY,
  estado      orden_estado NOT NULL DEFAULT 'solicitada',
  creada_por  integer NOT NULL REFERENCES usuarios(id),
  creada_en   timestamptz NOT NULL DEFAULT now(),
  actualizada_en timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alumnos (
  id                 bigserial PRIMARY KEY,
  matricula          text NOT NULL UNIQUE CHECK (matricula ~ '^[0-9]{8,9}-[0-9]$'),
  prematricula       text NOT NULL CHECK (prematricula = split_part(matricula, '-', 1)),
  curp               text NOT NULL,
  curp_revisar       boolean NOT NULL DEFAULT false, -- SAE sent a CURP that fails the rules
  folio              text CHECK (folio ~ '^[0-9]{9}$'),
  nombre             text NOT NULL,
  primer_apellido    text NOT NULL,
  segundo_apellido   text NOT NULL DEFAULT '',
  plantel_id         integer NOT NULL REFERENCES planteles(id),
  grupo              text NOT NULL,
  carrera_codigo     text NOT NULL REFERENCES carreras(codigo),
  semestre           smallint NOT NULL CHECK (semestre BETWEEN 1 AND 10),
  correo             text,
  institucion_medica text REFERENCES instituciones_medicas(nombre) ON UPDATE CASCADE,
  numero_afiliacion  text CHECK (length(numero_afiliacion) BETWEEN 1 AND 20),
  vigencia           date,
  estatus            estatus NOT NULL DEFAULT 'enrolado',
  fecha_biometricos  timestamptz,
  fecha_estatus      timestamptz NOT NULL DEFAULT now(),
  fecha_entrega      timestamptz,
  fecha_sae          timestamptz,
  comentario         text NOT NULL DEFAULT '',
  orden_id           integer REFERENCES ordenes_impresion(id),
  validado_por       integer REFERENCES usuarios(id),
  validado_en        timestamptz,
  foto_id            bigint,
  firma_id           bigint,
  firma_entrega_id   bigint,
  creado_en          timestamptz NOT NULL DEFAULT now(),
  busqueda           text GENERATED ALWAYS AS
                       (fold(primer_apellido || ' ' || segundo_apellido || ' ' || nombre)) STORED,
  FOREIGN KEY (plantel_id, grupo) REFERENCES grupos(plantel_id, clave),
  -- statuses past capture need both biometrics; validated ones need every printed field
  CHECK (estatus = 'enrolado' OR (foto_id IS NOT NULL AND firma_id IS NOT NULL)),
  CHECK (estatus IN ('enrolado', 'aplazado', 'capturado')
         OR (institucion_medica IS NOT NULL AND numero_afiliacion IS NOT NULL AND vigencia IS NOT NULL)),
  CHECK (estatus <> 'entregado' OR (firma_entrega_id IS NOT NULL AND fecha_entrega IS NOT NULL))
);
CREATE INDEX alumnos_curp ON alumnos (curp);
CREATE INDEX alumnos_plantel_estatus ON alumnos (plantel_id, estatus);
CREATE INDEX alumnos_plantel_grupo_estatus ON alumnos (plantel_id, grupo, estatus);
CREATE INDEX alumnos_busqueda ON alumnos (busqueda text_pattern_ops);
CREATE INDEX alumnos_orden ON alumnos (orden_id) WHERE orden_id IS NOT NULL;

-- Every version of every image is kept; the student row points at the current ones.
CREATE TABLE biometricos (
  id          bigserial PRIMARY KEY,
  alumno_id   bigint NOT NULL REFERENCES alumnos(id) DEFERRABLE,
  tipo        biometrico_tipo NOT NULL,
  mime        text NOT NULL CHECK (mime IN ('image/jpeg', 'image/png')),
  datos       bytea NOT NULL,
  sha256      text NOT NULL CHECK (length(sha256) = 64),
  bytes       integer NOT NULL CHECK (bytes > 0),
  ancho       integer NOT NULL,
  alto        integer NOT NULL,
  revision    jsonb NOT NULL DEFAULT '{}'::jsonb,  -- photo-check results
  creado_por  integer REFERENCES usuarios(id),
  creado_en   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX biometricos_alumno ON biometricos (alumno_id, tipo, creado_en DESC);

ALTER TABLE alumnos
  ADD FOREIGN KEY (foto_id) REFERENCES biometricos(id) DEFERRABLE,
  ADD FOREIGN KEY (firma_id) REFERENCES biometricos(id) DEFERRABLE,
  ADD FOREIGN KEY (firma_entrega_id) REFERENCES biometricos(id) DEFERRABLE;

CREATE TABLE orden_items (
  orden_id     integer NOT NULL REFERENCES ordenes_impresion(id),
  alumno_id    bigint NOT NULL REFERENCES alumnos(id),
  reimpresion  boolean NOT NULL DEFAULT false,
  motivo       text NOT NULL DEFAULT '',
  abierto      boolean NOT NULL DEFAULT true,  -- false once received or rejected at reception
  PRIMARY KEY (orden_id, alumno_id)
);
-- each student is in at most one open order
CREATE UNIQUE INDEX orden_items_un_abierto ON orden_items (alumno_id) WHERE abierto;

-- The audit trail: one row per status change or recorded action.
CREATE TABLE eventos (
  id          bigserial PRIMARY KEY,
  alumno_id   bigint NOT NULL REFERENCES alumnos(id),
  en          timestamptz NOT NULL DEFAULT now(),
  usuario_id  integer REFERENCES usuarios(id),
  accion      text NOT NULL,
  de          estatus,
  a           estatus,
  comentario  text NOT NULL DEFAULT '',
  orden_id    integer REFERENCES ordenes_impresion(id)
);
CREATE INDEX eventos_alumno ON eventos (alumno_id, en);

-- Server-side sessions: the auth cookie carries only this random id, so sign-out and a
-- password change end a session everywhere.
CREATE TABLE sesiones (
  id          text PRIMARY KEY,
  usuario_id  integer NOT NULL REFERENCES usuarios(id),
  creada_en   timestamptz NOT NULL DEFAULT now(),
  expira_en   timestamptz NOT NULL,
  cerrada_en  timestamptz
);
CREATE INDEX sesiones_usuario ON sesiones (usuario_id) WHERE cerrada_en IS NULL;
