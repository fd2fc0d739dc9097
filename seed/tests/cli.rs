//! The `seed` binary, run as a process against a fresh test database.

use std::process::{Command, Output};

use sqlx::PgPool;

/// DATABASE_URL with its database replaced by the one `#[sqlx::test]` created for this test.
async fn url_of(pool: &PgPool) -> String {
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let mut url = url::Url::parse(&std::env::var("DATABASE_URL").unwrap()).unwrap();
    url.set_path(&db);
    url.into()
}

fn seed(url: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seed"));
    cmd.args(args).env_remove("DATABASE_URL");
    if let Some(url) = url {
        cmd.env("DATABASE_URL", url);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    (
        status.code().expect("killed by a signal"),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

#[sqlx::test(migrations = false)]
async fn check_and_apply_exit_codes(pool: PgPool) {
    let url = url_of(&pool).await;

    // Unmigrated: everything is missing, and --check creates nothing.
    let (code, out, _) = seed(Some(&url), &["--check"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out,
        "model `kokoro` is missing from the database\nmodel `higgs` is missing from the database\n"
    );
    let tables: Option<String> = sqlx::query_scalar("SELECT to_regclass('models')::text")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(tables, None);

    // Apply migrates and seeds.
    let (code, out, err) = seed(Some(&url), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "catalog applied: models 2 inserted, 0 updated, 0 renamed; voices 62 inserted, 0 updated\n"
    );
    let (code, out, err) = seed(Some(&url), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "catalog already in sync: nothing changed\n");

    let (code, out, _) = seed(Some(&url), &["--check"]);
    assert_eq!((code, out.as_str()), (0, "catalog in sync\n"));

    // --database-url wins over the environment.
    let (code, out, _) = seed(None, &["--check", "--database-url", &url]);
    assert_eq!((code, out.as_str()), (0, "catalog in sync\n"));

    sqlx::query("UPDATE voices SET name = 'Hart' WHERE slug = 'af_heart'")
        .execute(&pool)
        .await
        .unwrap();
    let (code, out, _) = seed(Some(&url), &["--check"]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "voice `kokoro/af_heart`: name is \"Hart\" in the database but \"Heart\" in the manifest\n"
    );
}

#[test]
fn connection_failure_exits_2() {
    // Nothing listens on port 1. Both modes at once: each retries for a few seconds.
    let url = "postgres://yapit:secret@127.0.0.1:1/yapit";
    let (check, apply) = std::thread::scope(|s| {
        let check = s.spawn(|| seed(Some(url), &["--check"]));
        let apply = s.spawn(|| seed(Some(url), &[]));
        (check.join().unwrap(), apply.join().unwrap())
    });
    for (code, out, err) in [check, apply] {
        assert_eq!(code, 2, "{out}{err}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains("cannot connect to the database"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }
}

#[test]
fn missing_database_url_is_a_clear_usage_error() {
    let (code, _, err) = seed(None, &["--check"]);
    assert_eq!(code, 2);
    assert!(err.contains("--database-url"), "{err}");
}
