//! The model's phoneme vocabulary (`vocab.json`: `{"vocab": {symbol: id}}`).

use std::{collections::HashMap, path::Path};

#[derive(Debug, thiserror::Error)]
pub enum VocabError {
    #[error("cannot read the vocabulary {path}: {reason}")]
    Read { path: String, reason: String },
}

#[derive(Debug, Clone)]
pub struct Vocab {
    ids: HashMap<char, i64>,
}

#[derive(serde::Deserialize)]
struct VocabFile {
    vocab: HashMap<String, i64>,
}

impl Vocab {
    pub fn load(path: &Path) -> Result<Self, VocabError> {
        let read_error = |reason: String| VocabError::Read {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
        let file: VocabFile = serde_json::from_str(&text).map_err(|e| read_error(e.to_string()))?;
        let mut ids = HashMap::with_capacity(file.vocab.len());
        for (symbol, id) in file.vocab {
            let mut chars = symbol.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => {
                    ids.insert(c, id);
                }
                _ => {
                    return Err(read_error(format!(
                        "symbol {symbol:?} is not one character"
                    )));
                }
            }
        }
        if ids.is_empty() {
            return Err(read_error("it holds no symbols".into()));
        }
        Ok(Self { ids })
    }

    /// Whether `symbol` has an id ([`Vocab::encode`] keeps it).
    pub fn knows(&self, symbol: char) -> bool {
        self.ids.contains_key(&symbol)
    }

    /// Phonemes → ids; symbols the model does not know are dropped.
    pub fn encode(&self, phonemes: &str) -> Vec<i64> {
        phonemes
            .chars()
            .filter_map(|c| self.ids.get(&c).copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_known_symbols_and_drops_the_rest() {
        let path = std::env::temp_dir().join(format!("yapit-vocab-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"vocab": {"h": 50, "ə": 83, " ": 16, ".": 4}}"#).unwrap();
        let vocab = Vocab::load(&path).unwrap();
        assert_eq!(vocab.encode("hə. x"), vec![50, 83, 4, 16]);
        std::fs::write(&path, r#"{"vocab": {"ab": 1}}"#).unwrap();
        assert!(
            Vocab::load(&path)
                .unwrap_err()
                .to_string()
                .contains("\"ab\"")
        );
        std::fs::remove_file(path).ok();
    }
}
