//! The manifest: parsing and validation of `catalog.toml`.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::SeedError;

/// The manifest compiled into the binary.
const BUILTIN: &str = include_str!("../catalog.toml");

static BUILTIN_CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    Catalog::from_toml(BUILTIN)
        .unwrap_or_else(|e| panic!("seed/catalog.toml is invalid (a test catches this): {e}"))
});

/// Every model and voice the deployment offers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub models: Vec<CatalogModel>,
}

/// One TTS model. `slug` is its stable public identifier.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogModel {
    pub slug: String,
    pub name: String,
    pub sample_rate: i32,
    /// Former slugs of this model: a row found under one is renamed (or merged) to `slug`.
    #[serde(default)]
    pub legacy_slugs: Vec<String>,
    /// The voice clients use when the listener has chosen none; one of `voices`.
    #[serde(default)]
    pub default_voice: Option<String>,
    #[serde(default)]
    pub voices: Vec<CatalogVoice>,
}

/// One voice of a model. `slug` is unique within its model.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogVoice {
    pub slug: String,
    pub name: String,
    /// BCP 47 language tag, e.g. `en-US`, `ja`.
    pub lang: String,
}

impl Catalog {
    /// The checked-in manifest `seed/catalog.toml`, parsed and validated once.
    pub fn builtin() -> Catalog {
        BUILTIN_CATALOG.clone()
    }

    /// Parses and validates a manifest.
    pub fn from_toml(text: &str) -> Result<Catalog, SeedError> {
        let catalog: Catalog = toml::from_str(text).map_err(|e| SeedError::Parse(Box::new(e)))?;
        catalog.validate()?;
        Ok(catalog)
    }

    /// Checks what the database schema cannot: non-empty fields, well-formed slugs and
    /// language tags, positive sample rates, and that no slug (current or legacy) of a model
    /// and no voice slug within a model is used twice.
    pub fn validate(&self) -> Result<(), SeedError> {
        let invalid = |msg: String| Err(SeedError::Invalid(msg));
        let mut model_slugs = HashSet::new();
        for model in &self.models {
            check_slug(&model.slug).or_else(|e| invalid(format!("model slug {e}")))?;
            let m = &model.slug;
            if model.name.trim().is_empty() {
                return invalid(format!("model `{m}` has an empty name"));
            }
            if model.sample_rate <= 0 {
                return invalid(format!(
                    "model `{m}` has sample_rate {}, it must be > 0",
                    model.sample_rate
                ));
            }
            for slug in std::iter::once(&model.slug).chain(&model.legacy_slugs) {
                check_slug(slug).or_else(|e| invalid(format!("legacy slug of `{m}`: {e}")))?;
                if !model_slugs.insert(slug.as_str()) {
                    return invalid(format!(
                        "model slug `{slug}` is used twice (slugs and legacy slugs must be unique)"
                    ));
                }
            }
            let mut voice_slugs = HashSet::new();
            for voice in &model.voices {
                check_slug(&voice.slug)
                    .or_else(|e| invalid(format!("voice slug in `{m}`: {e}")))?;
                let v = &voice.slug;
                if !voice_slugs.insert(v.as_str()) {
                    return invalid(format!("voice `{m}/{v}` is listed twice"));
                }
                if voice.name.trim().is_empty() {
                    return invalid(format!("voice `{m}/{v}` has an empty name"));
                }
                if !is_language_tag(&voice.lang) {
                    return invalid(format!(
                        "voice `{m}/{v}` has lang {:?}, which is not a BCP 47 tag like `en-US`",
                        voice.lang
                    ));
                }
            }
            if let Some(default) = &model.default_voice
                && !voice_slugs.contains(default.as_str())
            {
                return invalid(format!(
                    "model `{m}` has default_voice `{default}`, which is not one of its voices"
                ));
            }
        }
        Ok(())
    }

    /// The model with this slug, if any.
    pub fn model(&self, slug: &str) -> Option<&CatalogModel> {
        self.models.iter().find(|m| m.slug == slug)
    }
}

/// Slugs appear in URLs and API payloads: lowercase ASCII letters, digits, `_` and `-`.
fn check_slug(slug: &str) -> Result<(), String> {
    if slug.is_empty() {
        return Err("is empty".into());
    }
    if !slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "`{slug}` may only contain lowercase ASCII letters, digits, `_` and `-`"
        ));
    }
    Ok(())
}

/// A light structural check of a BCP 47 tag: a 2–3 letter primary language, then subtags of
/// 1–8 ASCII letters or digits separated by `-`.
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [[models]]
        slug = "m"
        name = "M"
        sample_rate = 16000
        voices = [{ slug = "v", name = "V", lang = "en-US" }]
    "#;

    fn err(text: &str) -> String {
        Catalog::from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn minimal_manifest_parses() {
        let c = Catalog::from_toml(MINIMAL).unwrap();
        assert_eq!(c.models.len(), 1);
        assert!(c.models[0].legacy_slugs.is_empty());
        assert_eq!(c.models[0].voices[0].lang, "en-US");
    }

    #[test]
    fn rejects_invalid_manifests() {
        assert!(err(&MINIMAL.replace("16000", "0")).contains("sample_rate 0"));
        assert!(err(&MINIMAL.replace(r#"name = "M""#, r#"name = " ""#)).contains("empty name"));
        assert!(err(&MINIMAL.replace(r#"name = "V""#, r#"name = """#)).contains("empty name"));
        assert!(
            err(&MINIMAL.replace(r#"lang = "en-US""#, r#"lang = "english""#)).contains("BCP 47")
        );
        assert!(err(&MINIMAL.replace(r#"slug = "v""#, r#"slug = "V x""#)).contains("lowercase"));
        assert!(err(&format!("{MINIMAL}\n{MINIMAL}")).contains("used twice"));
        let dup_voice = MINIMAL.replace(
            r#"voices = [{ slug = "v", name = "V", lang = "en-US" }]"#,
            r#"voices = [{ slug = "v", name = "V", lang = "en-US" }, { slug = "v", name = "W", lang = "en" }]"#,
        );
        assert!(err(&dup_voice).contains("listed twice"));
        let legacy_clash = MINIMAL.replace(
            "sample_rate",
            r#"legacy_slugs = ["m"]
        sample_rate"#,
        );
        assert!(err(&legacy_clash).contains("used twice"));
        let stray_default = MINIMAL.replace(
            "sample_rate",
            r#"default_voice = "w"
        sample_rate"#,
        );
        assert!(err(&stray_default).contains("default_voice `w`, which is not one of its voices"));
        assert!(err(&MINIMAL.replace("sample_rate", "sampel_rate")).contains("sampel_rate"));
        assert!(matches!(
            Catalog::from_toml("models = 3"),
            Err(SeedError::Parse(_))
        ));
    }

    #[test]
    fn language_tags() {
        for ok in ["en", "en-US", "zh", "pt-BR", "zh-Hans-CN", "yue"] {
            assert!(is_language_tag(ok), "{ok}");
        }
        for bad in ["", "e", "english", "en_US", "en-", "en-toolongsubtag"] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }
}
