-- Mi credencial (issue 16): student self-service. Codes by e-mail, student sessions, and the photo and
-- signature a student sends, waiting in the plantel's «Revisión de fotografías» queue.

-- Off by default: a plantel turns it on (python -m app autoservicio PLANTEL --activar; docs/autoservicio.md).
ALTER TABLE planteles ADD COLUMN IF NOT EXISTS autoservicio boolean NOT NULL DEFAULT false;

-- One row per «Enviar código» request, known matrícula or not (alumno_id NULL: same work either way).
-- solicitud_sha256: digest of the random request id held in the browser's signed cookie;
-- codigo_hmac: HMAC-SHA256 (SECRET_KEY) of the 6-digit code — the code itself is never stored.
CREATE TABLE codigos_alumno (
  id               bigserial PRIMARY KEY,
  solicitud_sha256 text NOT NULL UNIQUE CHECK (length(solicitud_sha256) = 64),
  alumno_id        bigint REFERENCES alumnos(id) ON DELETE CASCADE,
  codigo_hmac      text NOT NULL,
  ip               text NOT NULL DEFAULT '',
  creado_en        timestamptz NOT NULL DEFAULT now(),
  expira_en        timestamptz NOT NULL,
  intentos         integer NOT NULL DEFAULT 0,
  usado_en         timestamptz
);
CREATE INDEX codigos_alumno_alumno ON codigos_alumno (alumno_id, creado_en DESC);

-- Student sessions: the cookie carries a random id, only its digest is stored; short-lived.
CREATE TABLE sesiones_alumno (
  id_sha256   text PRIMARY KEY CHECK (length(id_sha256) = 64),
  alumno_id   bigint NOT NULL REFERENCES alumnos(id) ON DELETE CASCADE,
  creada_en   timestamptz NOT NULL DEFAULT now(),
  expira_en   timestamptz NOT NULL,
  cerrada_en  timestamptz
);
CREATE INDEX sesiones_alumno_alumno ON sesiones_alumno (alumno_id) WHERE cerrada_en IS NULL;

-- A student's submission: normalised images sealed like biometricos.datos (app/biocrypt.py), the photo
-- checks, the privacy-notice version acknowledged; resolved once (conditional UPDATE on estado).
CREATE TABLE envios_alumno (
  id             bigserial PRIMARY KEY,
  alumno_id      bigint NOT NULL REFERENCES alumnos(id) ON DELETE CASCADE,
  plantel_id     integer NOT NULL REFERENCES planteles(id),
  clave          uuid NOT NULL UNIQUE,
  payload_sha256 text NOT NULL,
  foto           bytea NOT NULL,
  firma          bytea NOT NULL,
  revision       jsonb NOT NULL DEFAULT '{}',
  aviso_version  integer NOT NULL,
  enviado_en     timestamptz NOT NULL DEFAULT now(),
  estado         text NOT NULL DEFAULT 'pendiente'
                 CHECK (estado IN ('pendiente', 'aprobado', 'rechazado', 'reemplazado')),
  resuelto_por   integer REFERENCES usuarios(id),
  resuelto_en    timestamptz,
  motivo         text NOT NULL DEFAULT '',
  comentario     text NOT NULL DEFAULT ''
);
CREATE INDEX envios_alumno_cola ON envios_alumno (plantel_id, enviado_en) WHERE estado = 'pendiente';
CREATE INDEX envios_alumno_alumno ON envios_alumno (alumno_id, enviado_en DESC);
