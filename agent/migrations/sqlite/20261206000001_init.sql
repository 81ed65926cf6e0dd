-- Autodidact agent, schema version 1 (SQLite).
-- Portable types where the two engines agree; the lines marked PG differ on PostgreSQL
-- (a PostgreSQL backend keeps its own migrations folder; the queries stay the same).
-- Times are milliseconds since the Unix epoch (BIGINT); booleans are bound from Rust.

CREATE TABLE intents (
    name        TEXT PRIMARY KEY,
    answer      TEXT NOT NULL,
    active      BOOLEAN NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);

CREATE TABLE messages (
    id             INTEGER PRIMARY KEY,          -- PG: BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY
    session        TEXT NOT NULL,
    text           TEXT NOT NULL,
    intent         TEXT NOT NULL,                -- an intent name or `out_of_scope`
    confidence     DOUBLE PRECISION NOT NULL,
    ood_score      DOUBLE PRECISION NOT NULL,
    action         TEXT NOT NULL CHECK (action IN ('answer', 'clarify', 'handoff')),
    context        TEXT NOT NULL,                -- the policy's feature vector, JSON
    model_version  BIGINT NOT NULL,
    created_ms     BIGINT NOT NULL
);
CREATE INDEX messages_session ON messages (session);

CREATE TABLE examples (
    id          INTEGER PRIMARY KEY,             -- PG: BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY
    intent      TEXT NOT NULL REFERENCES intents (name),
    text        TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('bootstrap', 'operator', 'feedback')),
    message_id  BIGINT REFERENCES messages (id),
    created_ms  BIGINT NOT NULL
);
CREATE INDEX examples_intent ON examples (intent);

CREATE TABLE feedback (
    seq             INTEGER PRIMARY KEY,         -- PG: BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY
    message_id      BIGINT NOT NULL UNIQUE REFERENCES messages (id),
    resolved        BOOLEAN NOT NULL,
    correct_intent  TEXT REFERENCES intents (name),
    reward          DOUBLE PRECISION NOT NULL,
    created_ms      BIGINT NOT NULL
);

CREATE TABLE model_versions (
    version     INTEGER PRIMARY KEY,             -- PG: BIGINT PRIMARY KEY
    blob        BLOB NOT NULL,                   -- PG: BYTEA
    metrics     TEXT NOT NULL,                   -- JSON
    created_ms  BIGINT NOT NULL
);

CREATE TABLE bandit_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    state       TEXT NOT NULL,                   -- JSON
    updated_ms  BIGINT NOT NULL
);

CREATE TABLE tokens (
    role        TEXT PRIMARY KEY CHECK (role IN ('client', 'admin')),
    sha256      TEXT NOT NULL,                   -- hex SHA-256 of the token; the token itself is never stored
    created_ms  BIGINT NOT NULL
);
