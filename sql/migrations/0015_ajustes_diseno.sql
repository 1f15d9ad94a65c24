-- 0015: Ajustes del ciclo escolar and Diseño de la credencial (issue 13, docs/admin.md).

-- A business setting saved from Administración → Ajustes. A setting without a row follows its default
-- (the environment: app/config.py Settings, PHOTO_*, SOPORTE_*). The value is the canonical form text,
-- parsed again by app/ajustes.py on every read (a value that no longer passes falls back to the default).
CREATE TABLE ajustes (
  clave            text PRIMARY KEY,
  valor            text NOT NULL,
  actualizado_en   timestamptz NOT NULL DEFAULT now(),
  actualizado_por  integer REFERENCES usuarios(id)
);

-- A version of the credential's design. Versions are immutable (a printed order or temporary credential
-- names one); "Guardar como nueva versión" inserts the next one, which applies from the next order.
-- creada_por has no foreign key on purpose: a design outlives the account that made it (cambios_admin
-- keeps who made each version).
CREATE TABLE disenos_credencial (
  id                 serial PRIMARY KEY,          -- the version number
  creada_en          timestamptz NOT NULL DEFAULT now(),
  creada_por         integer,
  institucion        text NOT NULL,
  institucion_2      text NOT NULL DEFAULT '',
  leyenda            text NOT NULL,
  leyenda_qr         text NOT NULL DEFAULT '',
  color_banda        text NOT NULL CHECK (color_banda ~ '^#[0-9A-F]{6}$'),
  color_texto        text NOT NULL CHECK (color_texto ~ '^#[0-9A-F]{6}$'),
  director_nombre    text NOT NULL DEFAULT '',
  director_cargo     text NOT NULL DEFAULT '',
  logo_png           bytea,                       -- NULL: our drawn placeholder logo (app/cards.py)
  firma_director_png bytea,
  nota               text NOT NULL DEFAULT ''
);

CREATE FUNCTION disenos_inmutables() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'una versión del diseño de la credencial no se modifica; guarde una nueva versión';
END $$;
CREATE TRIGGER disenos_inmutables BEFORE UPDATE ON disenos_credencial
  FOR EACH ROW EXECUTE FUNCTION disenos_inmutables();

-- Version 1: the design the code printed until now (green band, our placeholder logo, no director).
INSERT INTO disenos_credencial (institucion, leyenda, leyenda_qr, color_banda, color_texto, nota)
VALUES ('CONALEP Estado de México', 'Personal e intransferible. En caso de extravío, repórtelo a su plantel.',
        'Verificar', '#00723F', '#FFFFFF', 'Diseño inicial');

-- Each print order and temporary credential records the version it was printed with. Set at creation
-- (the latest version unless the inserting code names one), whatever path creates the row; an order
-- keeps it when its package is rebuilt.
ALTER TABLE ordenes_impresion ADD COLUMN diseno_id integer REFERENCES disenos_credencial(id);
ALTER TABLE credenciales_temporales ADD COLUMN diseno_id integer REFERENCES disenos_credencial(id);
UPDATE ordenes_impresion SET diseno_id = 1;
UPDATE credenciales_temporales SET diseno_id = 1;

CREATE FUNCTION diseno_al_crear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.diseno_id := coalesce(NEW.diseno_id, (SELECT max(id) FROM disenos_credencial));
  RETURN NEW;
END $$;
CREATE TRIGGER ordenes_diseno BEFORE INSERT ON ordenes_impresion
  FOR EACH ROW EXECUTE FUNCTION diseno_al_crear();
CREATE TRIGGER temporales_diseno BEFORE INSERT ON credenciales_temporales
  FOR EACH ROW EXECUTE FUNCTION diseno_al_crear();

CREATE FUNCTION diseno_de_orden_fijo() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.diseno_id IS NOT NULL AND NEW.diseno_id IS DISTINCT FROM OLD.diseno_id THEN
    RAISE EXCEPTION 'la orden % ya se imprimió con el diseño %', OLD.id, OLD.diseno_id;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER ordenes_diseno_fijo BEFORE UPDATE OF diseno_id ON ordenes_impresion
  FOR EACH ROW EXECUTE FUNCTION diseno_de_orden_fijo();
