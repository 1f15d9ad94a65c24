-- 0010: request counters for rate limits shared by every app server (app/ratelimit.py).
-- One row per key and fixed time window; UNLOGGED: counters need not survive a crash, and skipping
-- the WAL keeps a counted request cheap. Old windows are deleted by the app as it goes.
CREATE UNLOGGED TABLE limites_uso (
  clave   text        NOT NULL,
  ventana timestamptz NOT NULL,
  n       integer     NOT NULL,
  PRIMARY KEY (clave, ventana)
);
CREATE INDEX limites_uso_ventana ON limites_uso (ventana);
