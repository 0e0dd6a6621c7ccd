//! `hale migrate` against the real Postgres of `HALE_TEST_DATABASE_URL`
//! (skipped with a notice without it; `scripts/test.sh` provides it).

mod common;

use common::hale;
use hale_postgres::RoleSetup;
use predicates::prelude::*;
use serde_json::Value;

/// `url` with its user and password replaced.
fn with_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

#[test]
fn migrate_applies_the_schema_once_and_reports_its_version() {
    let Some(admin) = hale_testkit::services::database_url("hale-cli migrate") else {
        return;
    };
    // A private schema per run, owned by the migration role.
    let schema = format!(
        "hale_cli_{}_{}",
        std::process::id(),
        hale_postgres::latest_version()
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(hale_postgres::setup_roles(
            &admin,
            &RoleSetup {
                schema: Some(schema.clone()),
                migrator_password: Some("hale_migrator".into()),
                app_password: Some("hale_app".into()),
            },
        ))
        .expect("role setup");
    let migrator = with_user(&admin, "hale_migrator", "hale_migrator");
    let latest = hale_postgres::latest_version();
    for _ in 0..2 {
        // The second run finds nothing to do and says the same.
        hale()
            .env("HALE_DATABASE_URL", &migrator)
            .args(["migrate", "--schema", &schema])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(
                "postgres schema at version {latest}"
            )));
    }
    let out = hale()
        .args([
            "migrate",
            "--database-url",
            &migrator,
            "--schema",
            &schema,
            "-o",
            "json",
        ])
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["schema_version"], latest);
    // A schema that does not exist is the operator's mistake: exit 2.
    hale()
        .args([
            "migrate",
            "--database-url",
            &migrator,
            "--schema",
            "no_such_schema",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not exist"));
}
