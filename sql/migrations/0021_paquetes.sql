-- Print packages built in the background (issue 17): the build state per order, the PDF parts drawn by
-- the workers and the finished ZIP in 1 MB blocks (bytea, no TOAST compression: JPEG/PDF/ZIP don't shrink).
CREATE TABLE paquetes (
    orden_id integer PRIMARY KEY REFERENCES ordenes_impresion(id) ON DELETE CASCADE,
    estado text NOT NULL DEFAULT 'pendiente' CHECK (estado IN ('pendiente', 'construyendo', 'listo', 'fallido')),
    generacion integer NOT NULL DEFAULT 1,          -- the build in progress; older jobs see it and stop
    huella text NOT NULL,                           -- content hash the build in progress is made from
    tarjetas_total integer NOT NULL DEFAULT 0,
    tarjetas_hechas integer NOT NULL DEFAULT 0,
    partes_total integer NOT NULL DEFAULT 0,
    partes_hechas integer NOT NULL DEFAULT 0,
    lista_generacion integer,                       -- the stored ZIP's build (its blocks), null before the first
    lista_huella text,
    tamano bigint,
    error text,
    actualizado_en timestamptz NOT NULL DEFAULT now(),
    lista_en timestamptz
);

CREATE TABLE paquete_partes (
    orden_id integer NOT NULL REFERENCES paquetes(orden_id) ON DELETE CASCADE,
    generacion integer NOT NULL,
    numero integer NOT NULL,
    tarjetas integer NOT NULL,
    pdf bytea NOT NULL,
    PRIMARY KEY (orden_id, generacion, numero)
);
ALTER TABLE paquete_partes ALTER COLUMN pdf SET STORAGE EXTERNAL;

CREATE TABLE paquete_bloques (
    orden_id integer NOT NULL REFERENCES paquetes(orden_id) ON DELETE CASCADE,
    generacion integer NOT NULL,
    numero integer NOT NULL,
    datos bytea NOT NULL,
    PRIMARY KEY (orden_id, generacion, numero)
);
ALTER TABLE paquete_bloques ALTER COLUMN datos SET STORAGE EXTERNAL;
