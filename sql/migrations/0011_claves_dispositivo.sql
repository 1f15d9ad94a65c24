-- 0011: the per-plantel key that encrypts what a device keeps for offline work (the roster and the
-- captures waiting in the outbox). Random, kept here (not derived from SECRET_KEY, so rotating the
-- session secret never makes a device's pending captures unreadable); handed only to a live session
-- of that plantel by GET /pwa/sesion. docs/offline.md, "Data on the device".
CREATE TABLE claves_dispositivo (
  plantel_id  int PRIMARY KEY REFERENCES planteles(id),
  clave       bytea NOT NULL CHECK (octet_length(clave) = 32),
  creada_en   timestamptz NOT NULL DEFAULT now()
);
