-- 0004: captures with idempotency keys, and every issue of a temporary credential.

-- One row per accepted capture ("Guardar" in Toma de biométricos, or a delivery signature).
-- clave is the UUID the device made for that capture: a retried or doubled request with the
-- same key and content gets the stored answer again instead of storing twice (offline outbox).
CREATE TABLE capturas (
  clave              uuid PRIMARY KEY,
  tipo               text NOT NULL CHECK (tipo IN ('biometricos', 'entrega')),
  alumno_id          bigint NOT NULL REFERENCES alumnos(id),
  usuario_id         integer REFERENCES usuarios(id),
  payload_sha256     text NOT NULL CHECK (length(payload_sha256) = 64),
  foto_id            bigint REFERENCES biometricos(id),
  firma_id           bigint REFERENCES biometricos(id),
  device_captured_at timestamptz,               -- when the device took it (may be offline)
  received_at        timestamptz NOT NULL DEFAULT now(),
  response           jsonb
);
CREATE INDEX capturas_alumno ON capturas (alumno_id, received_at DESC);

-- Every temporary credential printed; the QR of each one carries a signed reference to its row.
CREATE TABLE credenciales_temporales (
  id          bigserial PRIMARY KEY,
  alumno_id   bigint NOT NULL REFERENCES alumnos(id),
  foto_id     bigint NOT NULL REFERENCES biometricos(id),
  firma_id    bigint NOT NULL REFERENCES biometricos(id),
  vigencia    integer NOT NULL,                 -- the year printed as VIGENCIA
  emitida_por integer REFERENCES usuarios(id),
  emitida_en  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credenciales_temporales_alumno ON credenciales_temporales (alumno_id, emitida_en DESC);
