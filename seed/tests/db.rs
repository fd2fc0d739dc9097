//! `apply` and `check` against a real Postgres. Each `#[sqlx::test]` gets a fresh database
//! (DATABASE_URL must point at a server where the user may create databases; see
//! scripts/postgres.sh).

use seed::{Catalog, Drift, SeedReport, apply, check};
use sqlx::PgPool;

/// (id, slug, name, sample_rate) of every model, by id.
async fn models(pool: &PgPool) -> Vec<(i64, String, String, i32)> {
    sqlx::query_as("SELECT id, slug, name, sample_rate FROM models ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// (id, model_id, slug, name, lang) of every voice, by id.
async fn voices(pool: &PgPool) -> Vec<(i64, i64, String, String, String)> {
    sqlx::query_as("SELECT id, model_id, slug, name, lang FROM voices ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn model_id(pool: &PgPool, slug: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT id FROM models WHERE slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await
        .unwrap()
}

async fn insert_model(pool: &PgPool, slug: &str, name: &str, sample_rate: i32) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO models (slug, name, sample_rate) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(slug)
    .bind(name)
    .bind(sample_rate)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A row in a table of someone else's (`scratch_refs`) pointing at a model, with the default
/// NO ACTION: what a merge must move, and cannot delete past.
async fn reference_from_elsewhere(pool: &PgPool, model_id: i64) {
    sqlx::query("CREATE TABLE scratch_refs (model_id bigint NOT NULL REFERENCES models (id))")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO scratch_refs (model_id) VALUES ($1)")
        .bind(model_id)
        .execute(pool)
        .await
        .unwrap();
}

async fn insert_voice(pool: &PgPool, model_id: i64, slug: &str, name: &str, lang: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO voices (model_id, slug, name, lang) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(model_id)
    .bind(slug)
    .bind(name)
    .bind(lang)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// (id, model_id, name, lang) of one voice.
async fn voice(pool: &PgPool, model: &str, slug: &str) -> Option<(i64, i64, String, String)> {
    sqlx::query_as(
        "SELECT v.id, v.model_id, v.name, v.lang FROM voices v JOIN models m ON m.id = v.model_id \
         WHERE m.slug = $1 AND v.slug = $2",
    )
    .bind(model)
    .bind(slug)
    .fetch_optional(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn apply_on_empty_db_inserts_everything(pool: PgPool) {
    let catalog = Catalog::builtin();
    let report = apply(&pool, &catalog).await.unwrap();
    assert_eq!(
        report,
        SeedReport {
            models_inserted: 2,
            voices_inserted: 62,
            ..SeedReport::default()
        }
    );
    assert!(report.changed());

    let rows = models(&pool).await;
    let summary: Vec<(&str, &str, i32)> = rows
        .iter()
        .map(|(_, s, n, r)| (s.as_str(), n.as_str(), *r))
        .collect();
    assert_eq!(
        summary,
        [
            ("kokoro", "Kokoro 82M", 24000),
            ("higgs", "Higgs Audio v2", 24000)
        ]
    );
    let all = voices(&pool).await;
    assert_eq!(all.len(), 62);
    let kokoro = model_id(&pool, "kokoro").await.unwrap();
    assert_eq!(all.iter().filter(|v| v.1 == kokoro).count(), 54);
    // Inserted in manifest order.
    assert_eq!(all[0].2, "af_alloy");
    let (_, _, name, lang) = voice(&pool, "kokoro", "af_heart").await.unwrap();
    assert_eq!((name.as_str(), lang.as_str()), ("Heart", "en-US"));
    let (_, _, name, lang) = voice(&pool, "higgs", "zh_man_sichuan").await.unwrap();
    assert_eq!((name.as_str(), lang.as_str()), ("Sichuan Man", "zh"));

    assert_eq!(check(&pool, &catalog).await.unwrap(), []);
}

#[sqlx::test(migrations = "../migrations")]
async fn apply_twice_changes_nothing_the_second_time(pool: PgPool) {
    let catalog = Catalog::builtin();
    assert!(apply(&pool, &catalog).await.unwrap().changed());
    let (models_before, voices_before) = (models(&pool).await, voices(&pool).await);

    let second = apply(&pool, &catalog).await.unwrap();
    assert_eq!(second, SeedReport::default());
    assert!(!second.changed());
    assert_eq!(models(&pool).await, models_before);
    assert_eq!(voices(&pool).await, voices_before);
}

#[sqlx::test(migrations = "../migrations")]
async fn apply_updates_only_rows_that_differ(pool: PgPool) {
    let catalog = Catalog::builtin();
    apply(&pool, &catalog).await.unwrap();
    let before = voice(&pool, "kokoro", "af_heart").await.unwrap();
    sqlx::query("UPDATE voices SET lang = 'en' WHERE slug = 'af_heart'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE models SET sample_rate = 22050 WHERE slug = 'higgs'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE models SET default_voice = 'jf_alpha' WHERE slug = 'kokoro'")
        .execute(&pool)
        .await
        .unwrap();
    let drift = check(&pool, &catalog).await.unwrap();
    assert!(
        drift.iter().any(|d| d.to_string()
            == r#"model `kokoro`: default_voice is "jf_alpha" in the database but "af_heart" in the manifest"#),
        "{drift:?}"
    );
    // xmin changes whenever a row is rewritten: untouched rows must keep theirs.
    let xmin_of_bella = || async {
        sqlx::query_scalar::<_, String>("SELECT xmin::text FROM voices WHERE slug = 'af_bella'")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let bella_xmin = xmin_of_bella().await;

    let report = apply(&pool, &catalog).await.unwrap();
    assert_eq!(
        report,
        SeedReport {
            models_updated: 2,
            voices_updated: 1,
            ..SeedReport::default()
        }
    );
    let default: Option<String> =
        sqlx::query_scalar("SELECT default_voice FROM models WHERE slug = 'kokoro'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(default.as_deref(), Some("af_heart"));
    assert_eq!(voice(&pool, "kokoro", "af_heart").await.unwrap(), before);
    assert_eq!(xmin_of_bella().await, bella_xmin);
    assert_eq!(check(&pool, &catalog).await.unwrap(), []);
}

#[sqlx::test(migrations = "../migrations")]
async fn legacy_slug_is_renamed_in_place(pool: PgPool) {
    // A database seeded by hand, before the manifest existed.
    let legacy = insert_model(&pool, "kokoro-cpu", "Kokoro (CPU)", 22050).await;
    let heart = insert_voice(&pool, legacy, "af_heart", "heart", "en").await;
    let custom = insert_voice(&pool, legacy, "my_voice", "Mine", "en-US").await;
    reference_from_elsewhere(&pool, legacy).await;

    let catalog = Catalog::builtin();
    let drift = check(&pool, &catalog).await.unwrap();
    assert!(drift.contains(&Drift::LegacySlug {
        legacy: "kokoro-cpu".into(),
        slug: "kokoro".into()
    }));

    let report = apply(&pool, &catalog).await.unwrap();
    assert_eq!(
        report,
        SeedReport {
            models_inserted: 1, // higgs
            models_updated: 1,  // name and sample rate of the renamed row
            models_renamed: 1,
            voices_inserted: 53 + 8,
            voices_updated: 1, // af_heart's name and lang
        }
    );
    assert_eq!(model_id(&pool, "kokoro").await, Some(legacy));
    assert_eq!(model_id(&pool, "kokoro-cpu").await, None);
    let (_, name, rate): (i64, String, i32) =
        sqlx::query_as("SELECT id, name, sample_rate FROM models WHERE id = $1")
            .bind(legacy)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((name.as_str(), rate), ("Kokoro 82M", 24000));
    let referenced: String =
        sqlx::query_scalar("SELECT m.slug FROM scratch_refs r JOIN models m ON m.id = r.model_id")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(referenced, "kokoro");
    assert_eq!(
        voice(&pool, "kokoro", "af_heart").await.unwrap(),
        (heart, legacy, "Heart".into(), "en-US".into())
    );
    assert_eq!(
        voice(&pool, "kokoro", "my_voice").await.unwrap(),
        (custom, legacy, "Mine".into(), "en-US".into())
    );

    assert_eq!(apply(&pool, &catalog).await.unwrap(), SeedReport::default());
    assert_eq!(
        check(&pool, &catalog).await.unwrap(),
        [Drift::ExtraVoice {
            model: "kokoro".into(),
            slug: "my_voice".into()
        }]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn legacy_and_current_rows_are_merged(pool: PgPool) {
    let current = insert_model(&pool, "kokoro", "Kokoro 82M", 24000).await;
    let current_heart = insert_voice(&pool, current, "af_heart", "Heart", "en-US").await;
    let legacy = insert_model(&pool, "kokoro-cpu", "Kokoro (CPU)", 24000).await;
    insert_voice(&pool, legacy, "af_heart", "Legacy Heart", "en-US").await;
    let custom = insert_voice(&pool, legacy, "my_voice", "Mine", "en-US").await;
    let higgs_legacy = insert_model(&pool, "higgs-native", "Higgs", 24000).await;

    let catalog = Catalog::builtin();
    let drift = check(&pool, &catalog).await.unwrap();
    for (legacy, slug) in [("kokoro-cpu", "kokoro"), ("higgs-native", "higgs")] {
        let d = Drift::LegacySlug {
            legacy: legacy.into(),
            slug: slug.into(),
        };
        assert!(drift.contains(&d), "{d} not in {drift:?}");
    }

    let report = apply(&pool, &catalog).await.unwrap();
    assert_eq!(
        report,
        SeedReport {
            models_inserted: 0,
            models_updated: 2, // higgs' name, and both default voices
            models_renamed: 2, // kokoro-cpu merged, higgs-native renamed
            voices_inserted: 53 + 8,
            voices_updated: 1, // my_voice moved
        }
    );
    assert_eq!(model_id(&pool, "kokoro").await, Some(current));
    assert_eq!(model_id(&pool, "kokoro-cpu").await, None);
    assert_eq!(model_id(&pool, "higgs").await, Some(higgs_legacy));
    assert_eq!(models(&pool).await.len(), 2);
    // The current row's voice wins; the legacy-only voice moved over with its id.
    assert_eq!(
        voice(&pool, "kokoro", "af_heart").await.unwrap(),
        (current_heart, current, "Heart".into(), "en-US".into())
    );
    assert_eq!(
        voice(&pool, "kokoro", "my_voice").await.unwrap(),
        (custom, current, "Mine".into(), "en-US".into())
    );
    let orphans: i64 = sqlx::query_scalar("SELECT count(*) FROM voices WHERE model_id = $1")
        .bind(legacy)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(orphans, 0);
    assert_eq!(voices(&pool).await.len(), 54 + 8 + 1);
    assert_eq!(apply(&pool, &catalog).await.unwrap(), SeedReport::default());
}

#[sqlx::test(migrations = "../migrations")]
async fn check_reports_each_kind_of_drift(pool: PgPool) {
    let catalog = Catalog::builtin();
    apply(&pool, &catalog).await.unwrap();
    assert_eq!(check(&pool, &catalog).await.unwrap(), []);

    sqlx::query("UPDATE voices SET name = 'Hart' WHERE slug = 'af_heart'")
        .execute(&pool)
        .await
        .unwrap();
    let drift = check(&pool, &catalog).await.unwrap();
    assert_eq!(
        drift,
        [Drift::VoiceDiffers {
            model: "kokoro".into(),
            slug: "af_heart".into(),
            field: "name",
            db: "Hart".into(),
            manifest: "Heart".into(),
        }]
    );
    assert!(drift[0].to_string().contains("kokoro/af_heart"));

    sqlx::query("DELETE FROM voices WHERE slug = 'vex'")
        .execute(&pool)
        .await
        .unwrap();
    let kokoro = model_id(&pool, "kokoro").await.unwrap();
    insert_voice(&pool, kokoro, "zz_house", "House", "en-US").await;
    sqlx::query("UPDATE models SET name = 'Higgs' WHERE slug = 'higgs'")
        .execute(&pool)
        .await
        .unwrap();
    insert_model(&pool, "piper", "Piper", 22050).await;

    let drift = check(&pool, &catalog).await.unwrap();
    assert_eq!(
        drift,
        [
            Drift::VoiceDiffers {
                model: "kokoro".into(),
                slug: "af_heart".into(),
                field: "name",
                db: "Hart".into(),
                manifest: "Heart".into(),
            },
            Drift::ExtraVoice {
                model: "kokoro".into(),
                slug: "zz_house".into()
            },
            Drift::ModelDiffers {
                slug: "higgs".into(),
                field: "name",
                db: "Higgs".into(),
                manifest: "Higgs Audio v2".into(),
            },
            Drift::MissingVoice {
                model: "higgs".into(),
                slug: "vex".into()
            },
            Drift::ExtraModel {
                slug: "piper".into()
            },
        ]
    );

    // apply repairs what differs and keeps what the deployment added.
    let report = apply(&pool, &catalog).await.unwrap();
    assert_eq!(
        report,
        SeedReport {
            models_updated: 1,
            voices_inserted: 1,
            voices_updated: 1,
            ..SeedReport::default()
        }
    );
    assert_eq!(
        check(&pool, &catalog).await.unwrap(),
        [
            Drift::ExtraVoice {
                model: "kokoro".into(),
                slug: "zz_house".into()
            },
            Drift::ExtraModel {
                slug: "piper".into()
            },
        ]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn check_on_empty_db_reports_models_missing(pool: PgPool) {
    let drift = check(&pool, &Catalog::builtin()).await.unwrap();
    assert_eq!(
        drift,
        [
            Drift::MissingModel {
                slug: "kokoro".into()
            },
            Drift::MissingModel {
                slug: "higgs".into()
            },
        ]
    );
}

#[sqlx::test(migrations = false)]
async fn check_on_unmigrated_db_reports_models_missing(pool: PgPool) {
    let drift = check(&pool, &Catalog::builtin()).await.unwrap();
    assert_eq!(drift.len(), 2);
    assert!(
        drift
            .iter()
            .all(|d| matches!(d, Drift::MissingModel { .. }))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn apply_rejects_an_invalid_catalog_without_writing(pool: PgPool) {
    let mut catalog = Catalog::builtin();
    catalog.models[1].sample_rate = 0;
    let err = apply(&pool, &catalog).await.unwrap_err();
    assert!(err.to_string().contains("sample_rate"), "{err}");
    assert!(models(&pool).await.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failing_apply_rolls_back_everything(pool: PgPool) {
    // Something the merge cannot delete past: a NO ACTION reference to the legacy row.
    insert_model(&pool, "kokoro", "Kokoro 82M", 24000).await;
    let legacy = insert_model(&pool, "kokoro-cpu", "Kokoro (CPU)", 24000).await;
    reference_from_elsewhere(&pool, legacy).await;
    let before = (models(&pool).await, voices(&pool).await);
    let err = apply(&pool, &Catalog::builtin()).await.unwrap_err();
    assert!(matches!(err, seed::SeedError::Database(_)), "{err:?}");
    assert_eq!((models(&pool).await, voices(&pool).await), before);
}
