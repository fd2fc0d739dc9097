use std::sync::Arc;

use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
    routing::get,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    fetch::{self, ContentKind, FetchError},
    language,
    parse::{self, Block, ExtractError, ParseOptions},
};
use crate::{
    auth::CurrentUser,
    error::{ApiError, Json, Query},
    startup::AppState,
};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/documents", get(list).post(create))
        .route("/v1/documents/{id}", get(show).patch(rename).delete(remove))
}

const MAX_TITLE_CHARS: usize = 300;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDocument {
    text: Option<String>,
    url: Option<String>,
    title: Option<String>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
struct DocumentSummary {
    id: Uuid,
    title: String,
    source_url: Option<String>,
    block_count: i32,
    char_count: i32,
    /// Detected from the text (see `documents::language`); `None` when unsure.
    language: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

#[derive(Serialize, sqlx::FromRow)]
struct StoredBlock {
    idx: i32,
    kind: String,
    html: String,
    text: String,
    speakable: bool,
    #[sqlx(rename = "group_idx")]
    group: i32,
}

/// What a source became: its blocks and the title it suggests.
struct Parsed {
    blocks: Vec<Block>,
    title: Option<String>,
    source_url: Option<String>,
    chars: usize,
}

/// A title as one line of text: control characters (a NUL, which Postgres cannot store, line
/// breaks, tabs) become spaces, runs of them one.
fn one_line(title: &str) -> String {
    title
        .split(|c: char| c.is_control())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_string()
}

fn clean_title(title: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(title) = title else { return Ok(None) };
    let title = one_line(&title);
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::BadRequest(format!(
            "the title is longer than {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok((!title.is_empty()).then_some(title))
}

fn check_length(chars: usize, limit: usize) -> Result<(), ApiError> {
    if chars > limit {
        return Err(ApiError::PayloadTooLarge(format!(
            "the document is {chars} characters long; the limit is {limit}"
        )));
    }
    Ok(())
}

async fn parse_text(state: &AppState, text: String) -> Result<Parsed, ApiError> {
    let chars = text.chars().count();
    check_length(chars, state.config.max_document_chars)?;
    let options = state.parse_options();
    let blocks = tokio::task::spawn_blocking(move || parse::markdown_to_blocks(&text, options))
        .await
        .map_err(anyhow::Error::from)?;
    Ok(Parsed {
        blocks,
        title: None,
        source_url: None,
        chars,
    })
}

impl From<FetchError> for ApiError {
    fn from(error: FetchError) -> Self {
        let message = error.to_string();
        match error {
            FetchError::InvalidUrl(_) => ApiError::BadRequest(message),
            FetchError::Blocked { .. } => ApiError::Unprocessable(message),
            FetchError::TooLarge { .. } => ApiError::PayloadTooLarge(message),
            FetchError::UnsupportedType(_) => ApiError::UnsupportedMediaType(message),
            FetchError::TooManyRedirects(_) | FetchError::Upstream(_) | FetchError::Timeout(_) => {
                ApiError::BadGateway(message)
            }
        }
    }
}

async fn parse_url(state: &AppState, url: String) -> Result<Parsed, ApiError> {
    let page = fetch::fetch(&state.fetch, &url).await?;
    let chars = page.body.chars().count();
    check_length(chars, state.config.max_document_chars)?;
    let options = state.parse_options();
    let final_url = page.final_url.clone();
    let (blocks, title) = tokio::task::spawn_blocking(move || match page.content_type {
        ContentKind::Html => parse::extract_article(&page.body, &final_url).map(|article| {
            (
                parse::markdown_to_blocks(&article.markdown, options),
                article.title,
            )
        }),
        ContentKind::Markdown => Ok((parse::markdown_to_blocks(&page.body, options), None)),
        ContentKind::PlainText => Ok((parse::plain_text_to_blocks(&page.body, options), None)),
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(|e| match e {
        ExtractError::NoReadableText => {
            ApiError::Unprocessable(format!("{url} has no readable text"))
        }
        other => ApiError::Unprocessable(format!("{url} cannot be read: {other}")),
    })?;
    Ok(Parsed {
        blocks,
        title,
        source_url: Some(page.final_url.to_string()),
        chars,
    })
}

/// The first heading, else the start of the first speakable block.
fn title_from_blocks(blocks: &[Block]) -> Option<String> {
    let first = blocks
        .iter()
        .find(|b| b.speakable && b.kind == parse::BlockKind::Heading)
        .or_else(|| blocks.iter().find(|b| b.speakable))?;
    let mut title: String = first.text.chars().take(80).collect();
    if first.text.chars().count() > 80 {
        title.push('…');
    }
    Some(title)
}

async fn create(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
    Json(new): Json<NewDocument>,
) -> Result<impl IntoResponse, ApiError> {
    let title = clean_title(new.title)?;
    let parsed = match (new.text, new.url) {
        (Some(text), None) => parse_text(&state, text).await?,
        (None, Some(url)) => parse_url(&state, url).await?,
        _ => {
            return Err(ApiError::BadRequest(
                "send exactly one of \"text\" or \"url\"".into(),
            ));
        }
    };
    if !parsed.blocks.iter().any(|b| b.speakable) {
        return Err(ApiError::Unprocessable(
            "the document has no readable text".into(),
        ));
    }
    let title = title
        .or(parsed
            .title
            .as_deref()
            .map(one_line)
            .filter(|t| !t.is_empty()))
        .or_else(|| title_from_blocks(&parsed.blocks).map(|t| one_line(&t)))
        .unwrap_or_else(|| "Untitled".into());
    let language = language::detect(
        parsed
            .blocks
            .iter()
            .filter(|b| b.speakable)
            .map(|b| b.text.as_str()),
    );
    let summary = store(&state, user.id, &title, language.as_deref(), &parsed).await?;
    Ok((StatusCode::CREATED, axum::Json(summary)))
}

/// One transaction: a document is stored whole or not at all.
async fn store(
    state: &AppState,
    user_id: Uuid,
    title: &str,
    language: Option<&str>,
    parsed: &Parsed,
) -> Result<DocumentSummary, ApiError> {
    let mut tx = state.pool.begin().await?;
    let summary: DocumentSummary = sqlx::query_as(
        "INSERT INTO documents (user_id, title, source_url, block_count, char_count, language)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, title, source_url, block_count, char_count, language, created_at",
    )
    .bind(user_id)
    .bind(title)
    .bind(&parsed.source_url)
    .bind(parsed.blocks.len() as i32)
    .bind(parsed.chars.min(i32::MAX as usize) as i32)
    .bind(language)
    .fetch_one(&mut *tx)
    .await?;
    let blocks = &parsed.blocks;
    let kinds: Vec<String> = blocks
        .iter()
        .map(|b| {
            serde_json::to_value(b.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        })
        .collect();
    // One statement for all blocks: a long document has thousands.
    sqlx::query(
        "INSERT INTO blocks (document_id, idx, kind, html, text, speakable, group_idx)
         SELECT $1, * FROM UNNEST($2::int[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::int[])",
    )
    .bind(summary.id)
    .bind(blocks.iter().map(|b| b.idx as i32).collect::<Vec<_>>())
    .bind(kinds)
    .bind(blocks.iter().map(|b| b.html.clone()).collect::<Vec<_>>())
    .bind(blocks.iter().map(|b| b.text.clone()).collect::<Vec<_>>())
    .bind(blocks.iter().map(|b| b.speakable).collect::<Vec<_>>())
    .bind(blocks.iter().map(|b| b.group as i32).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(summary)
}

#[derive(Deserialize)]
struct Page {
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn list(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
    Query(page): Query<Page>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let limit = page.limit.unwrap_or(20);
    let offset = page.offset.unwrap_or(0);
    if !(1..=100).contains(&limit) || offset < 0 {
        return Err(ApiError::BadRequest(
            "limit must be 1 to 100 and offset 0 or more".into(),
        ));
    }
    let mut documents: Vec<DocumentSummary> = sqlx::query_as(
        "SELECT id, title, source_url, block_count, char_count, language, created_at FROM documents
         WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(user.id)
    .bind(limit + 1)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    let more = documents.len() as i64 > limit;
    documents.truncate(limit as usize);
    Ok(axum::Json(serde_json::json!({
        "documents": documents,
        "next_offset": more.then_some(offset + limit),
    })))
}

/// A malformed id is answered like a missing document.
fn document_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound("document"))
}

async fn summary_of(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
) -> Result<DocumentSummary, ApiError> {
    sqlx::query_as(
        "SELECT id, title, source_url, block_count, char_count, language, created_at FROM documents
         WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user.id)
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound("document"))
}

async fn show(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let summary = summary_of(&state, &user, document_id(&id)?).await?;
    let blocks: Vec<StoredBlock> = sqlx::query_as(
        "SELECT idx, kind, html, text, speakable, group_idx FROM blocks
         WHERE document_id = $1 ORDER BY idx",
    )
    .bind(summary.id)
    .fetch_all(&state.pool)
    .await?;
    let mut body = serde_json::to_value(&summary).map_err(anyhow::Error::from)?;
    body["blocks"] = serde_json::to_value(blocks).map_err(anyhow::Error::from)?;
    Ok(axum::Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rename {
    title: String,
}

async fn rename(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(rename): Json<Rename>,
) -> Result<axum::Json<DocumentSummary>, ApiError> {
    let id = document_id(&id)?;
    let title = clean_title(Some(rename.title))?
        .ok_or_else(|| ApiError::BadRequest("the title must not be empty".into()))?;
    let summary: Option<DocumentSummary> = sqlx::query_as(
        "UPDATE documents SET title = $3, updated_at = now() WHERE id = $1 AND user_id = $2
         RETURNING id, title, source_url, block_count, char_count, language, created_at",
    )
    .bind(id)
    .bind(user.id)
    .bind(title)
    .fetch_optional(&state.pool)
    .await?;
    summary
        .map(axum::Json)
        .ok_or(ApiError::NotFound("document"))
}

async fn remove(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = document_id(&id)?;
    let deleted = sqlx::query("DELETE FROM documents WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.id)
        .execute(&state.pool)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(ApiError::NotFound("document"));
    }
    Ok(StatusCode::NO_CONTENT)
}

impl AppState {
    fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            max_block_chars: self.config.max_block_chars,
        }
    }
}
