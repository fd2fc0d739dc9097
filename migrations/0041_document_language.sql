-- The language a document is written in, detected from its text when it is added (ISO 639-1,
-- e.g. `en`, `es`; ISO 639-3 for a language without a two-letter code); NULL when the text is
-- too short or mixed to tell. The player proposes a voice of this language.
ALTER TABLE documents ADD COLUMN language text;
