-- 0005: printing companies, per-company API tokens and print-order milestones (issue 5).

-- The printing companies. An order belongs to one company (NULL on orders created before this
-- migration: visible to every company). A company user (rol empresa) may belong to one company;
-- without one it sees every company's orders (a single-company installation).
CREATE TABLE empresas (
  id        serial PRIMARY KEY,
  nombre    text NOT NULL UNIQUE CHECK (nombre <> ''),
  creada_en timestamptz NOT NULL DEFAULT now()
);
INSERT INTO empresas (nombre) VALUES ('Empresa de impresión');

ALTER TABLE usuarios ADD COLUMN empresa_id integer REFERENCES empresas(id);

ALTER TABLE ordenes_impresion
  ADD COLUMN empresa_id      integer REFERENCES empresas(id),
  ADD COLUMN en_impresion_en timestamptz,
  ADD COLUMN enviada_en      timestamptz,
  ADD COLUMN recibida_en     timestamptz;

-- Bearer tokens for the company API. Only the sha256 of a token is stored; the token is shown
-- once when created (python -m app create-api-token). A token acts as the company user it was
-- issued to, so every status change it makes is recorded with a person.
CREATE TABLE api_tokens (
  id            serial PRIMARY KEY,
  usuario_id    integer NOT NULL REFERENCES usuarios(id),
  nombre        text NOT NULL DEFAULT '',
  token_sha256  text NOT NULL UNIQUE CHECK (length(token_sha256) = 64),
  creado_en     timestamptz NOT NULL DEFAULT now(),
  ultimo_uso_en timestamptz,
  revocado_en   timestamptz
);

-- reception and tracking read items by order
CREATE INDEX orden_items_orden ON orden_items (orden_id, abierto);
CREATE INDEX eventos_orden ON eventos (orden_id) WHERE orden_id IS NOT NULL;
