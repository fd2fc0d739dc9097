-- The voice a client uses when the listener has chosen none; set by the `seed` crate from
-- seed/catalog.toml (`default_voice`), NULL for a model that names none.
ALTER TABLE models ADD COLUMN default_voice text;
