-- 0020: Avisos (issue 15): staff may turn off their own notices; students who ask are excluded (recorded).

-- «Mis avisos»: a staff member's own switch for the e-mail notices (docs/avisos.md).
ALTER TABLE usuarios ADD COLUMN avisos boolean NOT NULL DEFAULT true;

-- Students excluded from notices at their request: who recorded it and when; lifting it is recorded too
-- (the row stays, with quitada_por/quitada_en). At most one active exclusion per matrícula.
CREATE TABLE avisos_exclusiones (
  id             serial PRIMARY KEY,
  matricula      text NOT NULL CHECK (matricula ~ '^[0-9]{8,9}-[0-9]$'),
  correo         text,                       -- the student's e-mail when recorded (also excluded)
  motivo         text NOT NULL DEFAULT '',
  registrada_por integer REFERENCES usuarios(id),
  registrada_en  timestamptz NOT NULL DEFAULT now(),
  quitada_por    integer REFERENCES usuarios(id),
  quitada_en     timestamptz
);
CREATE UNIQUE INDEX avisos_exclusiones_activa ON avisos_exclusiones (matricula) WHERE quitada_en IS NULL;
CREATE INDEX avisos_exclusiones_correo ON avisos_exclusiones (lower(correo)) WHERE quitada_en IS NULL;
