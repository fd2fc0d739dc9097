-- Synthesis usage per user and day (UTC): characters sent to a worker and seconds of audio it
-- made. Audio served from the cache is free and not counted.
CREATE TABLE usage_daily (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day        date NOT NULL,
    characters bigint NOT NULL DEFAULT 0,
    audio_ms   bigint NOT NULL DEFAULT 0,
    syntheses  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);
