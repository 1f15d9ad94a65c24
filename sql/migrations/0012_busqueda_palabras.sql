-- 0012: name search by words in any order ("maldonado oscar" and "oscar maldonado" find OSCAR
-- ... MALDONADO). pg_trgm/unaccent are not in every cluster (the embedded one lacks contrib), so
-- the folded words of the name are kept as an array with a GIN index: `palabras @> ARRAY[...]`
-- finds rows holding every complete word. (A generated column cannot read another one, hence
-- fold() again rather than busqueda.)
ALTER TABLE alumnos ADD COLUMN palabras text[] GENERATED ALWAYS AS (regexp_split_to_array(fold(
  btrim(primer_apellido || ' ' || segundo_apellido || ' ' || nombre)), ' +')) STORED;
CREATE INDEX alumnos_palabras ON alumnos USING gin (palabras);
