-- Encryption at rest (issue 14, app/biocrypt.py): which keys the stored images are sealed with, so a
-- server that lacks one of them refuses to start (app/queries/biometricos.py: check_keys) instead
-- of failing image by image. Kept by triggers, whoever writes (capture, COPY, restore, rotate-key).
CREATE TABLE biometricos_llaves (
  llave  bytea PRIMARY KEY,            -- 8-byte key id (a hash of the key, never the key); '' = images in clear
  desde  timestamptz NOT NULL DEFAULT now()
);

-- The key id of a stored blob: bytes 5-12 after the 'CRB1' header; '' for a plaintext image; NULL when purged.
CREATE FUNCTION biometrico_llave(datos bytea) RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN datos IS NULL THEN NULL
              WHEN substring(datos from 1 for 4) = '\x43524231'::bytea THEN substring(datos from 5 for 8)
              ELSE ''::bytea END
$$;

CREATE FUNCTION biometricos_llaves_en_uso() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO biometricos_llaves (llave)
  SELECT DISTINCT biometrico_llave(datos) FROM nuevas WHERE datos IS NOT NULL
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

CREATE TRIGGER biometricos_llaves_insert AFTER INSERT ON biometricos
  REFERENCING NEW TABLE AS nuevas FOR EACH STATEMENT EXECUTE FUNCTION biometricos_llaves_en_uso();
CREATE TRIGGER biometricos_llaves_update AFTER UPDATE ON biometricos
  REFERENCING NEW TABLE AS nuevas FOR EACH STATEMENT EXECUTE FUNCTION biometricos_llaves_en_uso();

INSERT INTO biometricos_llaves (llave)
SELECT DISTINCT biometrico_llave(datos) FROM biometricos WHERE datos IS NOT NULL ON CONFLICT DO NOTHING;
