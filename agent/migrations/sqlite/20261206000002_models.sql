-- Autodidact agent, schema version 2: cached features, model candidates and the served model.

-- The featurizer's output for the example (f32 little-endian): a cache, so a restart does not
-- re-encode every stored text. NULL when not computed yet.
ALTER TABLE examples ADD COLUMN features BLOB;        -- PG: BYTEA

-- Every candidate a consolidation produced is kept, with why it was refused if it was.
ALTER TABLE model_versions ADD COLUMN status TEXT NOT NULL DEFAULT 'accepted'
    CHECK (status IN ('accepted', 'refused'));
ALTER TABLE model_versions ADD COLUMN reason TEXT;

-- Which version answers (a rollback points it back).
CREATE TABLE served_model (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    version     BIGINT NOT NULL REFERENCES model_versions (version),
    updated_ms  BIGINT NOT NULL
);
INSERT INTO served_model (id, version, updated_ms)
    SELECT 1, MAX(version), 0 FROM model_versions HAVING COUNT(*) > 0;

-- Every change of the served model: bootstrap, accepted consolidation, rollback.
CREATE TABLE model_events (
    seq         INTEGER PRIMARY KEY,             -- PG: BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY
    version     BIGINT NOT NULL REFERENCES model_versions (version),
    event       TEXT NOT NULL CHECK (event IN ('bootstrap', 'accepted', 'refused', 'rollback')),
    detail      TEXT,
    created_ms  BIGINT NOT NULL
);
