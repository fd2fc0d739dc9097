-- Accounts, sessions, documents split into blocks, and the catalogue of models and voices.
-- Seed data is not here: the `seed` crate applies seed/catalog.toml idempotently.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Opaque bearer tokens; only their SHA-256 is stored, so a database leak leaks no sessions.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE documents (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       text NOT NULL,
    source_url  text,
    block_count integer NOT NULL,
    char_count  integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_by_user_newest ON documents (user_id, created_at DESC, id DESC);

CREATE TABLE blocks (
    document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    idx         integer NOT NULL,
    kind        text NOT NULL,
    html        text NOT NULL,
    text        text NOT NULL,
    speakable   boolean NOT NULL,
    group_idx   integer NOT NULL,
    PRIMARY KEY (document_id, idx)
);

CREATE TABLE models (
    id          bigserial PRIMARY KEY,
    slug        text NOT NULL UNIQUE,
    name        text NOT NULL,
    sample_rate integer NOT NULL
);

CREATE TABLE voices (
    id       bigserial PRIMARY KEY,
    model_id bigint NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    slug     text NOT NULL,
    name     text NOT NULL,
    lang     text NOT NULL,
    UNIQUE (model_id, slug)
);
