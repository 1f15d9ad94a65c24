-- Sign-in, recovery and API-token hardening (issue 11).

-- A password change invalidates API tokens issued before it. Existing users get -infinity so
-- tokens issued before this migration keep working; new rows and changes set now().
ALTER TABLE usuarios ADD COLUMN password_cambiado_en timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE usuarios ALTER COLUMN password_cambiado_en SET DEFAULT now();

-- The sign-in throttle counts per (address, account) and per address.
CREATE INDEX intentos_acceso_ip_email ON intentos_acceso (ip, email, en);

-- Issuing or using a reset link revokes the user's other open links.
CREATE INDEX recuperaciones_abiertas ON recuperaciones (usuario_id) WHERE usado_en IS NULL;

-- Every password-recovery request (known e-mail or not), for the per-account and per-address limit.
CREATE TABLE solicitudes_recuperacion (
  id     bigserial PRIMARY KEY,
  email  text NOT NULL,
  ip     text NOT NULL,
  en     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX solicitudes_recuperacion_email ON solicitudes_recuperacion (email, en);
CREATE INDEX solicitudes_recuperacion_ip ON solicitudes_recuperacion (ip, en);
