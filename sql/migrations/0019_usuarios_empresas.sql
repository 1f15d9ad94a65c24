-- 0019: Administración → Usuarios and Empresas de impresión (issue 13).

-- A company's catalog data; a company user always belongs to exactly one company.
ALTER TABLE empresas
  ADD COLUMN rfc      text CHECK (rfc IS NULL OR rfc ~ '^[A-ZÑ&]{3,4}[0-9]{6}[A-Z0-9]{3}$'),
  ADD COLUMN contacto text NOT NULL DEFAULT '',
  ADD COLUMN activa   boolean NOT NULL DEFAULT true;

-- «Desbloquear»: the admin's unlock is a successful attempt per blocking address, marked with who did it
-- (the throttle counts failures after the last success; the Bitácora shows it as 'desbloqueo').
ALTER TABLE intentos_acceso ADD COLUMN desbloqueado_por integer REFERENCES usuarios(id);
