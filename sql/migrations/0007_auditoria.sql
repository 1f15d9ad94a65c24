-- 0007: audit trail of sensitive reads (biometric images, Excel exports, print packages).
CREATE TABLE accesos_sensibles (
  id          bigserial PRIMARY KEY,
  usuario_id  integer REFERENCES usuarios(id),
  recurso     text NOT NULL,           -- 'foto', 'firma', 'firma_entrega', 'excel_plantel', 'paquete_orden', …
  alumno_id   bigint REFERENCES alumnos(id),
  plantel_id  integer REFERENCES planteles(id),
  detalle     text NOT NULL DEFAULT '',
  ip          text NOT NULL DEFAULT '',
  en          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accesos_sensibles_alumno ON accesos_sensibles (alumno_id, en) WHERE alumno_id IS NOT NULL;
CREATE INDEX accesos_sensibles_usuario ON accesos_sensibles (usuario_id, en);
