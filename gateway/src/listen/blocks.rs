//! The document blocks a socket speaks: read once per document and socket from Postgres, as the
//! user's pronunciation lexicon rewrites them, and the checks on the indices a listener names.

use sqlx::PgPool;
use uuid::Uuid;

use super::frames::{Code, Refusal};

/// A document's blocks as a socket needs them: each block's text (as spoken) and whether it is
/// speakable, by index.
#[derive(Debug)]
pub(super) struct DocumentBlocks {
    id: Uuid,
    blocks: Vec<(String, bool)>,
}

impl DocumentBlocks {
    /// `blocks` in order of their index; at least one (every stored document has one).
    pub(super) fn new(id: Uuid, blocks: Vec<(String, bool)>) -> Self {
        Self { id, blocks }
    }

    /// Reads `user`'s document `id`; a document of another user is as unknown as a missing one.
    pub(super) async fn load(pool: &PgPool, user: Uuid, id: Uuid) -> Result<Self, Refusal> {
        // Every stored document has at least one block, so no rows means not this user's.
        let blocks: Vec<(String, bool)> = sqlx::query_as(
            "SELECT b.text, b.speakable FROM blocks b JOIN documents d ON d.id = b.document_id
             WHERE d.id = $1 AND d.user_id = $2 ORDER BY b.idx",
        )
        .bind(id)
        .bind(user)
        .fetch_all(pool)
        .await
        .map_err(|_| {
            Refusal::new(
                Code::Unavailable,
                "cannot read the document right now; try again",
            )
        })?;
        if blocks.is_empty() {
            return Err(Refusal::new(
                Code::NotFound,
                format!("document {id} not found"),
            ));
        }
        // Spoken as the user's pronunciation lexicon says.
        let lexicon = crate::lexicon::Lexicon::load(pool, user)
            .await
            .map_err(|_| "cannot read your pronunciations right now; try again".to_string())?;
        let blocks = blocks
            .into_iter()
            .map(|(text, speakable)| (lexicon.apply(&text).into_owned(), speakable))
            .collect();
        Ok(Self::new(id, blocks))
    }

    pub(super) fn len(&self) -> i64 {
        self.blocks.len() as i64
    }

    /// A block's text and whether it is speakable.
    pub(super) fn block(&self, idx: i64) -> Option<(&str, bool)> {
        let (text, speakable) = self.blocks.get(usize::try_from(idx).ok()?)?;
        Some((text, *speakable))
    }

    /// Every index names a block of this document.
    pub(super) fn check_indices(&self, indices: &[i64]) -> Result<(), Refusal> {
        match indices.iter().find(|&&i| self.block(i).is_none()) {
            Some(bad) => Err(Refusal::from(format!(
                "block {bad} does not exist: document {} has blocks 0 to {}",
                self.id,
                self.len() - 1
            ))),
            None => Ok(()),
        }
    }

    /// The cursor stands on a block of this document.
    pub(super) fn check_cursor(&self, cursor: i64) -> Result<(), Refusal> {
        if self.block(cursor).is_some() {
            return Ok(());
        }
        Err(Refusal::from(format!(
            "cursor {cursor} is outside document {} (blocks 0 to {})",
            self.id,
            self.len() - 1
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> DocumentBlocks {
        DocumentBlocks::new(
            Uuid::nil(),
            vec![
                ("Hello.".into(), true),
                ("---".into(), false),
                ("Bye.".into(), true),
            ],
        )
    }

    #[test]
    fn indices_and_cursors_outside_the_document_are_refused_in_words() {
        let document = document();
        assert_eq!(document.len(), 3);
        assert_eq!(document.block(1), Some(("---", false)));
        assert_eq!(document.block(-1), None);
        assert!(document.check_indices(&[0, 2]).is_ok());
        let refusal = document.check_indices(&[0, 3, -1]).unwrap_err();
        assert_eq!(refusal.code, Code::InvalidRequest);
        assert_eq!(
            refusal.message,
            format!(
                "block 3 does not exist: document {} has blocks 0 to 2",
                Uuid::nil()
            )
        );
        assert!(document.check_cursor(2).is_ok());
        assert_eq!(
            document.check_cursor(-1).unwrap_err().message,
            format!(
                "cursor -1 is outside document {} (blocks 0 to 2)",
                Uuid::nil()
            )
        );
    }
}
