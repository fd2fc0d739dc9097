//! The catalogue of TTS models and voices: one checked-in manifest, `seed/catalog.toml`,
//! applied to Postgres idempotently.
//!
//! * [`apply`] brings the database in line with the manifest in one transaction: it inserts
//!   what is missing, updates only rows that differ, renames rows found under a legacy slug in
//!   place (keeping their ids), and leaves extra voices and models alone.
//! * [`check`] reports every difference as a [`Drift`] without changing anything.
//!
//! The gateway calls [`apply`] with [`Catalog::builtin`] at start-up; the `seed` binary runs the
//! same from the command line (see docs/catalog.md).

mod catalog;
pub mod cli;
mod db;

use std::fmt;

pub use catalog::{Catalog, CatalogModel, CatalogVoice};
pub use db::{apply, check, connect};

/// The schema migrations (`migrations/` at the workspace root), embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Everything that can go wrong reading the manifest or applying it.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot parse the catalog manifest: {0}")]
    Parse(#[source] Box<toml::de::Error>),
    #[error("invalid catalog manifest: {0}")]
    Invalid(String),
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot run the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error while seeding the catalog: {0}")]
    Database(#[from] sqlx::Error),
}

/// What [`apply`] changed. All zeros means the database already matched the manifest.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub models_inserted: u32,
    /// Models whose name or sample rate was changed to the manifest's.
    pub models_updated: u32,
    /// Rows found under a legacy slug: renamed in place, or merged into the current row.
    pub models_renamed: u32,
    pub voices_inserted: u32,
    /// Voices whose name or language was changed, or that were moved off a merged legacy row.
    pub voices_updated: u32,
}

impl SeedReport {
    /// Whether [`apply`] changed anything.
    pub fn changed(&self) -> bool {
        *self != SeedReport::default()
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.changed() {
            return f.write_str("catalog already in sync: nothing changed");
        }
        write!(
            f,
            "catalog applied: models {} inserted, {} updated, {} renamed; voices {} inserted, {} updated",
            self.models_inserted,
            self.models_updated,
            self.models_renamed,
            self.voices_inserted,
            self.voices_updated
        )
    }
}

/// One difference between the database and the manifest, found by [`check`].
///
/// `model` and `slug` name the manifest's (current) slugs; `db` and `manifest` are the two
/// values of a differing field, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The manifest's model is not in the database, under its slug or a legacy one.
    MissingModel { slug: String },
    /// A model field (`name`, `sample_rate`) differs.
    ModelDiffers {
        slug: String,
        field: &'static str,
        db: String,
        manifest: String,
    },
    /// A row still carries a legacy slug; [`apply`] renames it (or merges it) to `slug`.
    LegacySlug { legacy: String, slug: String },
    /// A voice of the manifest is not in the database.
    MissingVoice { model: String, slug: String },
    /// A voice field (`name`, `lang`) differs.
    VoiceDiffers {
        model: String,
        slug: String,
        field: &'static str,
        db: String,
        manifest: String,
    },
    /// A voice in the database that the manifest does not list; [`apply`] leaves it alone.
    ExtraVoice { model: String, slug: String },
    /// A model in the database that the manifest does not list; [`apply`] leaves it alone.
    ExtraModel { slug: String },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::MissingModel { slug } => {
                write!(f, "model `{slug}` is missing from the database")
            }
            Drift::ModelDiffers {
                slug,
                field,
                db,
                manifest,
            } => write!(
                f,
                "model `{slug}`: {field} is {db:?} in the database but {manifest:?} in the manifest"
            ),
            Drift::LegacySlug { legacy, slug } => write!(
                f,
                "model `{legacy}` uses a legacy slug: apply renames it (or merges it) to `{slug}`"
            ),
            Drift::MissingVoice { model, slug } => {
                write!(f, "voice `{model}/{slug}` is missing from the database")
            }
            Drift::VoiceDiffers {
                model,
                slug,
                field,
                db,
                manifest,
            } => write!(
                f,
                "voice `{model}/{slug}`: {field} is {db:?} in the database but {manifest:?} in the manifest"
            ),
            Drift::ExtraVoice { model, slug } => write!(
                f,
                "voice `{model}/{slug}` is in the database but not in the manifest (apply leaves it alone)"
            ),
            Drift::ExtraModel { slug } => write!(
                f,
                "model `{slug}` is in the database but not in the manifest (apply leaves it alone)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_changed_and_display() {
        let zero = SeedReport::default();
        assert!(!zero.changed());
        assert_eq!(zero.to_string(), "catalog already in sync: nothing changed");
        for r in [
            SeedReport {
                models_inserted: 1,
                ..zero.clone()
            },
            SeedReport {
                models_updated: 1,
                ..zero.clone()
            },
            SeedReport {
                models_renamed: 1,
                ..zero.clone()
            },
            SeedReport {
                voices_inserted: 1,
                ..zero.clone()
            },
            SeedReport {
                voices_updated: 1,
                ..zero.clone()
            },
        ] {
            assert!(r.changed(), "{r:?}");
        }
        let r = SeedReport {
            models_inserted: 2,
            voices_inserted: 62,
            ..zero
        };
        assert_eq!(
            r.to_string(),
            "catalog applied: models 2 inserted, 0 updated, 0 renamed; voices 62 inserted, 0 updated"
        );
    }

    #[test]
    fn drift_lines_are_single_lines() {
        let d = Drift::VoiceDiffers {
            model: "kokoro".into(),
            slug: "af_heart".into(),
            field: "name",
            db: "Hart".into(),
            manifest: "Heart".into(),
        };
        assert_eq!(
            d.to_string(),
            r#"voice `kokoro/af_heart`: name is "Hart" in the database but "Heart" in the manifest"#
        );
        let legacy = Drift::LegacySlug {
            legacy: "kokoro-cpu".into(),
            slug: "kokoro".into(),
        };
        assert!(legacy.to_string().contains("`kokoro-cpu`"));
        assert!(!legacy.to_string().contains('\n'));
    }
}
