-- 0014: Administración (issue 13). Every change an admin makes is one row of cambios_admin (who,
-- when, what, before → after); catalogs are retired, never deleted while in use.

CREATE TABLE cambios_admin (
  id          bigserial PRIMARY KEY,
  en          timestamptz NOT NULL DEFAULT now(),
  usuario_id  integer REFERENCES usuarios(id),
  entidad     text NOT NULL,            -- 'planteles', 'carreras', 'instituciones', 'usuarios', 'empresas', …
  clave       text NOT NULL,            -- the changed row's key, as text
  accion      text NOT NULL,            -- 'crear', 'editar', 'retirar', 'reactivar', 'eliminar', …
  antes       jsonb,
  despues     jsonb,
  ip          text NOT NULL DEFAULT ''
);
CREATE INDEX cambios_admin_en ON cambios_admin (en DESC, id DESC);
CREATE INDEX cambios_admin_usuario ON cambios_admin (usuario_id, en DESC);
CREATE INDEX cambios_admin_entidad ON cambios_admin (entidad, clave, en DESC);

ALTER TABLE planteles ADD COLUMN activo boolean NOT NULL DEFAULT true;

-- The career as the credential prints it ("PT-B en Electricidad Industrial"), editable by the admin.
ALTER TABLE carreras
  ADD COLUMN nombre_impreso text,
  ADD COLUMN vigente boolean NOT NULL DEFAULT true;
UPDATE carreras SET nombre_impreso = CASE WHEN nombre = codigo OR nombre LIKE 'PT-B%' OR nombre LIKE 'PSB%'
                                          THEN nombre ELSE 'PT-B en ' || nombre END;
ALTER TABLE carreras ALTER COLUMN nombre_impreso SET NOT NULL;
-- A career added by an import (SAE, demo) gets the usual printed form until the admin edits it.
CREATE FUNCTION carreras_nombre_impreso() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.nombre_impreso := coalesce(NEW.nombre_impreso, CASE WHEN NEW.nombre = NEW.codigo OR NEW.nombre LIKE 'PT-B%'
                                 OR NEW.nombre LIKE 'PSB%' THEN NEW.nombre ELSE 'PT-B en ' || NEW.nombre END);
  RETURN NEW;
END $$;
CREATE TRIGGER carreras_nombre_impreso BEFORE INSERT ON carreras FOR EACH ROW EXECUTE FUNCTION carreras_nombre_impreso();

-- The Bitácora pages every source newest first by (en, id): one index per source.
CREATE INDEX eventos_en ON eventos (en DESC, id DESC);
CREATE INDEX accesos_sensibles_en ON accesos_sensibles (en DESC, id DESC);
CREATE INDEX intentos_acceso_en ON intentos_acceso (en DESC, id DESC);
CREATE INDEX eventos_usuario ON eventos (usuario_id, en DESC);
CREATE INDEX eventos_accion_en ON eventos (accion, en DESC, id DESC);
CREATE INDEX accesos_sensibles_recurso_en ON accesos_sensibles (recurso, en DESC, id DESC);
