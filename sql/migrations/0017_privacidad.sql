-- 0017: personal data of minors (issue 14, docs/privacy.md): the versioned privacy notice, which notice a
-- capture acknowledged, the retention purge (image bytes removed, proof kept) and the baja mark.

-- A version of the Aviso de privacidad. Versions are immutable (a capture names the one the student was
-- shown); "Publicar nueva versión" inserts the next one. publicado_por has no foreign key on purpose: a
-- notice outlives the account that wrote it (cambios_admin keeps who published each version).
CREATE TABLE avisos_privacidad (
  version        serial PRIMARY KEY,
  publicado_en   timestamptz NOT NULL DEFAULT now(),
  publicado_por  integer,
  simplificado   text NOT NULL CHECK (btrim(simplificado) <> ''),
  integral       text NOT NULL CHECK (btrim(integral) <> ''),
  nota           text NOT NULL DEFAULT ''
);

CREATE FUNCTION avisos_inmutables() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'una versión del aviso de privacidad no se modifica ni se borra; publique una nueva versión';
END $$;
CREATE TRIGGER avisos_inmutables BEFORE UPDATE OR DELETE ON avisos_privacidad
  FOR EACH ROW EXECUTE FUNCTION avisos_inmutables();

INSERT INTO avisos_privacidad (simplificado, integral, nota) VALUES (
$s$El Colegio de Educación Profesional Técnica del Estado de México (CONALEP Estado de México) es responsable del tratamiento de los datos personales de sus alumnos que se recaban para la credencialización.

Datos que se tratan: nombre, CURP, matrícula, folio, plantel, grupo, carrera, correo institucional, institución médica y número de afiliación (NSS), así como la fotografía del rostro y la firma del alumno (datos biométricos, considerados sensibles).

Finalidad: identificar al alumno, emitir su credencial temporal y su credencial oficial, verificar su autenticidad y registrar su entrega. No se usan para otra finalidad.

Transferencias: los datos necesarios para imprimir la credencial se entregan a la empresa de impresión contratada, que solo puede usarlos para ese fin. No se hacen otras transferencias salvo las previstas por la ley.

Conservación: la fotografía y la firma se eliminan al vencer la vigencia de la credencial más el plazo de conservación, o poco después de una baja.

Derechos ARCO: usted (o su madre, padre o tutor, si es menor de edad) puede pedir acceso, rectificación, cancelación u oposición ante la Unidad de Transparencia o la UITI del Colegio. Los datos escolares se rectifican en el SAE del plantel.

El aviso de privacidad integral está disponible en esta misma página.$s$,
$i$AVISO DE PRIVACIDAD INTEGRAL — CREDENCIALIZACIÓN DE ALUMNOS

1. Responsable. El Colegio de Educación Profesional Técnica del Estado de México (CONALEP Estado de México), por conducto de su Unidad de Informática y Tecnologías de la Información (UITI) y de sus planteles, es responsable del tratamiento de los datos personales que se describen en este aviso, conforme a la Ley General de Protección de Datos Personales en Posesión de Sujetos Obligados y a la ley estatal aplicable.

2. Datos personales que se recaban. Del Sistema de Administración Escolar (SAE): nombre, primer y segundo apellido, CURP, matrícula, prematrícula, folio, plantel, grupo, carrera, semestre y correo institucional. En el plantel: institución médica, número de afiliación (NSS), vigencia de la credencial, la fotografía del rostro, la firma del alumno y la firma de recibido de la credencial. La fotografía y las firmas son datos personales sensibles; muchos titulares son menores de edad, por lo que su tratamiento se hace con la participación de quien ejerce la patria potestad o tutela cuando la ley lo exige.

3. Finalidades. (a) Identificar al alumno dentro del Colegio; (b) emitir la credencial temporal y la credencial oficial; (c) permitir verificar la autenticidad de una credencial mediante su código QR, que muestra solo los datos mínimos; (d) registrar la entrega de la credencial; (e) llevar la bitácora de quién consulta o descarga estos datos. No hay finalidades secundarias.

4. Fundamento. Las atribuciones del Colegio para identificar a sus alumnos y expedir credenciales escolares, y el consentimiento que el alumno o su tutor otorgan al conocer este aviso en la toma de biométricos.

5. Transferencias y encargados. La empresa de impresión contratada recibe, por orden de impresión, los datos que se imprimen en la credencial (incluidas fotografía y firma) y solo puede usarlos para imprimirla. No se realizan transferencias adicionales, salvo las necesarias para atender requerimientos de autoridades competentes.

6. Conservación. Se conservan los datos escolares mientras el alumno pertenezca al Colegio y conforme a los plazos de archivo aplicables. La fotografía y las firmas se eliminan automáticamente: de un alumno con credencial entregada, al vencer la vigencia más el plazo establecido; de un alumno dado de baja, tras el plazo establecido desde la baja; las versiones anteriores de una fotografía o firma reemplazada, tras el plazo establecido desde la entrega de la credencial. Cada eliminación deja constancia (fecha, imágenes y su huella digital) sin conservar la imagen.

7. Derechos ARCO. El titular, o su representante, puede solicitar: acceso (una copia de todos sus datos, imágenes y del registro de quién los consultó), rectificación (los datos escolares se corrigen en el SAE, que es la fuente oficial, y se actualizan con «Importar alumno SAE»), cancelación (la eliminación de su fotografía y firmas, salvo mientras su credencial esté en impresión) y oposición. La solicitud se presenta ante la Unidad de Transparencia del Colegio o la UITI, que responde en los plazos que marca la ley.

8. Cambios al aviso. Cualquier cambio se publica en esta página con un nuevo número de versión y su fecha; cada toma de biométricos registra la versión que se dio a conocer al alumno.$i$,
'Versión inicial');

-- The notice version the operator confirmed («El alumno conoce el aviso de privacidad») at Guardar.
ALTER TABLE capturas ADD COLUMN aviso_version integer REFERENCES avisos_privacidad(version);

-- Purged images keep their row (id, type, sha256, size, who/when) as proof; only the bytes go.
ALTER TABLE biometricos ALTER COLUMN datos DROP NOT NULL;
ALTER TABLE biometricos ADD COLUMN purgado_en timestamptz;
ALTER TABLE biometricos ADD CONSTRAINT biometricos_purgado CHECK ((datos IS NULL) = (purgado_en IS NOT NULL));

-- A student withdrawn in SAE (baja): set by the SAE reconciliation (issue 14); the purge counts from it.
ALTER TABLE alumnos ADD COLUMN IF NOT EXISTS baja_en timestamptz;
CREATE INDEX IF NOT EXISTS alumnos_baja_en ON alumnos (baja_en) WHERE baja_en IS NOT NULL;
CREATE INDEX alumnos_entregados ON alumnos (id) WHERE estatus = 'entregado';

-- One row per student and purge: the proof that (and why) images were deleted, never the images.
-- regla: the retention rule or 'cancelacion' (an ARCO request); origen: who ran it.
CREATE TABLE purgas (
  id               bigserial PRIMARY KEY,
  en               timestamptz NOT NULL DEFAULT now(),
  alumno_id        bigint NOT NULL REFERENCES alumnos(id),
  regla            text NOT NULL CHECK (regla IN ('entregado_vigencia', 'baja', 'versiones_anteriores', 'cancelacion')),
  origen           text NOT NULL CHECK (origen IN ('programada', 'comando', 'cancelacion')),
  biometrico_ids   bigint[] NOT NULL,
  sha256           text[] NOT NULL,
  cantidad         integer NOT NULL CHECK (cantidad = cardinality(biometrico_ids) AND cantidad = cardinality(sha256)),
  usuario_id       integer REFERENCES usuarios(id),
  motivo           text NOT NULL DEFAULT '',
  folio_solicitud  text NOT NULL DEFAULT '',
  aviso_version    integer REFERENCES avisos_privacidad(version)
);
CREATE INDEX purgas_alumno ON purgas (alumno_id, en DESC);
CREATE INDEX purgas_en ON purgas (en DESC, id DESC);
