-- E-mail addresses are stored in one normalised form (trimmed, lower-cased; see
-- gateway/src/auth/mod.rs, normalise_email), so that storage, lookup and limits agree.
-- The unique index on lower(email) already rules out two rows that would collide here.
UPDATE users SET email = lower(btrim(email)) WHERE email <> lower(btrim(email));
