-- A user's pronunciation lexicon: a word (lowercase, one token as the gateway splits text) and
-- what to say instead (a respelling, e.g. "yapit" -> "yap it"). Applied to the text before
-- synthesis, so the audio's variant hash covers it and the cache stays correct.
CREATE TABLE pronunciations (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    word       text NOT NULL,
    say        text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, word)
);
