-- 0008: name search for students without a second surname. busqueda was
-- "PRIMER  NOMBRE" (two spaces) when segundo_apellido is empty, so typing "apellido nombre"
-- found nothing. Rebuild it single-spaced (every part immutable, as generated columns require).
ALTER TABLE alumnos DROP COLUMN busqueda;
ALTER TABLE alumnos ADD COLUMN busqueda text GENERATED ALWAYS AS (fold(
  primer_apellido || ' ' || CASE WHEN segundo_apellido = '' THEN '' ELSE segundo_apellido || ' ' END || nombre
)) STORED;
CREATE INDEX alumnos_busqueda ON alumnos (busqueda text_pattern_ops);
