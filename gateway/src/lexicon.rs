//! A user's pronunciation lexicon: words the speech worker gets wrong (names, coinages), each
//! with what to say instead — a respelling the worker reads right ("yapit" → "yap it").
//!
//! The gateway rewrites a block's text with it before computing the block's variant hash, so
//! the rewritten text is what is synthesized, cached and billed: two users with different
//! entries get different audio, and users without entries share the cache as before.

use std::{borrow::Cow, collections::HashMap, sync::Arc};

use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, put},
};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    auth::CurrentUser,
    error::{ApiError, Json},
    startup::AppState,
};

/// Most entries one user may keep.
pub const MAX_ENTRIES: i64 = 1_000;
/// Longest word, in characters.
pub const MAX_WORD_CHARS: usize = 48;
/// Longest respelling, in characters.
pub const MAX_SAY_CHARS: usize = 200;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/pronunciations", get(list))
        .route("/v1/pronunciations/{word}", put(set).delete(remove))
}

/// A user's entries, keyed by lowercase word.
#[derive(Debug, Default, Clone)]
pub struct Lexicon {
    entries: HashMap<String, String>,
}

/// A word as the lexicon sees one: letters, digits and apostrophes.
fn in_word(c: char) -> bool {
    c.is_alphanumeric() || c == '\'' || c == '’'
}

impl Lexicon {
    pub fn from_entries(entries: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            entries: entries
                .into_iter()
                .map(|(word, say)| (word.to_lowercase(), say))
                .collect(),
        }
    }

    /// The user's lexicon (empty for a user without entries).
    pub async fn load(pool: &PgPool, user_id: Uuid) -> Result<Self, sqlx::Error> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT word, say FROM pronunciations WHERE user_id = $1")
                .bind(user_id)
                .fetch_all(pool)
                .await?;
        Ok(Self::from_entries(rows))
    }

    /// `text` with every whole word that has an entry (in any case) replaced by what to say.
    pub fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.entries.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut changed = false;
        let mut rest = text;
        while let Some(start) = rest.find(in_word) {
            out.push_str(&rest[..start]);
            let word_len = rest[start..]
                .find(|c: char| !in_word(c))
                .unwrap_or(rest.len() - start);
            let word = &rest[start..start + word_len];
            match self.entries.get(&word.to_lowercase()) {
                Some(say) => {
                    out.push_str(say);
                    changed = true;
                }
                None => out.push_str(word),
            }
            rest = &rest[start + word_len..];
        }
        out.push_str(rest);
        if changed {
            Cow::Owned(out)
        } else {
            Cow::Borrowed(text)
        }
    }
}

#[derive(Serialize, sqlx::FromRow)]
struct Entry {
    word: String,
    say: String,
}

/// `GET /v1/pronunciations`: the user's entries, by word.
#[derive(Serialize)]
struct Entries {
    pronunciations: Vec<Entry>,
}

async fn list(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
) -> Result<axum::Json<Entries>, ApiError> {
    let pronunciations: Vec<Entry> =
        sqlx::query_as("SELECT word, say FROM pronunciations WHERE user_id = $1 ORDER BY word")
            .bind(user.id)
            .fetch_all(&state.pool)
            .await?;
    Ok(axum::Json(Entries { pronunciations }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Say {
    say: String,
}

/// The word as stored: trimmed, lowercase, one word.
fn clean_word(raw: &str) -> Result<String, ApiError> {
    let word = raw.trim().to_lowercase();
    if word.is_empty() || word.chars().count() > MAX_WORD_CHARS || !word.chars().all(in_word) {
        return Err(ApiError::BadRequest(format!(
            "{raw:?} is not a word the lexicon can match: one word of letters, digits and \
             apostrophes, at most {MAX_WORD_CHARS} characters"
        )));
    }
    Ok(word)
}

fn clean_say(raw: &str) -> Result<String, ApiError> {
    let say = raw.trim();
    if say.is_empty() {
        return Err(ApiError::BadRequest(
            "say is empty: give what to say instead, e.g. \"yap it\"".into(),
        ));
    }
    if say.chars().count() > MAX_SAY_CHARS {
        return Err(ApiError::BadRequest(format!(
            "say is longer than {MAX_SAY_CHARS} characters"
        )));
    }
    if say.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "say must be one line of text, without control characters".into(),
        ));
    }
    Ok(say.to_string())
}

async fn set(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
    Path(word): Path<String>,
    Json(body): Json<Say>,
) -> Result<axum::Json<Entry>, ApiError> {
    let word = clean_word(&word)?;
    let say = clean_say(&body.say)?;
    // One statement: the count and the write cannot be split by a concurrent request.
    let stored: Option<(String, String)> = sqlx::query_as(
        "INSERT INTO pronunciations (user_id, word, say)
         SELECT $1, $2, $3
         WHERE (SELECT count(*) FROM pronunciations WHERE user_id = $1 AND word <> $2) < $4
         ON CONFLICT (user_id, word) DO UPDATE SET say = EXCLUDED.say, updated_at = now()
         RETURNING word, say",
    )
    .bind(user.id)
    .bind(&word)
    .bind(&say)
    .bind(MAX_ENTRIES)
    .fetch_optional(&state.pool)
    .await?;
    let (word, say) = stored.ok_or_else(|| {
        ApiError::Conflict(format!(
            "your lexicon already holds {MAX_ENTRIES} words, the most it may; delete one first"
        ))
    })?;
    Ok(axum::Json(Entry { word, say }))
}

async fn remove(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
    Path(word): Path<String>,
) -> Result<StatusCode, ApiError> {
    let word = clean_word(&word)?;
    let deleted = sqlx::query("DELETE FROM pronunciations WHERE user_id = $1 AND word = $2")
        .bind(user.id)
        .bind(&word)
        .execute(&state.pool)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(ApiError::NotFound("pronunciation"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        Lexicon::from_entries([
            ("yapit".to_string(), "yap it".to_string()),
            ("Nguyen".to_string(), "win".to_string()),
        ])
    }

    #[test]
    fn whole_words_in_any_case_are_replaced_and_the_rest_is_kept() {
        let lexicon = lexicon();
        assert_eq!(
            lexicon.apply("Yapit reads; NGUYEN listens to yapit."),
            "yap it reads; win listens to yap it."
        );
        // Part of a longer word is not the word.
        assert_eq!(lexicon.apply("yapitos and nguyens"), "yapitos and nguyens");
        assert!(matches!(lexicon.apply("nothing here"), Cow::Borrowed(_)));
        assert_eq!(lexicon.apply(""), "");
        assert_eq!(lexicon.apply("«yapit»—ok"), "«yap it»—ok");
    }

    #[test]
    fn an_empty_lexicon_changes_nothing() {
        let text = "Anything at all, 42 times.";
        assert!(matches!(Lexicon::default().apply(text), Cow::Borrowed(t) if t == text));
    }
}
