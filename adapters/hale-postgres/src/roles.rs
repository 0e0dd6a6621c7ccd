//! The two database roles and the schema they share.
//!
//! * `hale_migrator` owns the schema and every table in it and runs the
//!   migrations. It is not a superuser and has no BYPASSRLS; because the
//!   tables use FORCE ROW LEVEL SECURITY, even it sees only the tenant it
//!   sets.
//! * `hale_app` is what the server connects as: no superuser, no BYPASSRLS,
//!   no ownership, only the grants of migration 0003. It cannot disable
//!   row-level security or change a policy.
//!
//! The role names are fixed because the migrations grant to `hale_app` by
//! name; a deployment that logs in under another name makes that login a
//! member of `hale_app` (`GRANT hale_app TO my_login`).

use hale_engine::ports::StoreError;
use sqlx::{Connection, PgConnection};

use crate::config::{check_schema_name, redact};
use crate::error;

/// The role that owns the schema and runs migrations.
pub const MIGRATOR_ROLE: &str = "hale_migrator";
/// The role the application connects as.
pub const APP_ROLE: &str = "hale_app";

/// What [`role_setup_sql`] creates.
#[derive(Clone, Default)]
pub struct RoleSetup {
    /// The schema for Hale's tables (created if missing, owned by
    /// `hale_migrator`); `public` when `None`.
    pub schema: Option<String>,
    /// Sets `hale_migrator`'s password when given.
    pub migrator_password: Option<String>,
    /// Sets `hale_app`'s password when given.
    pub app_password: Option<String>,
}

impl std::fmt::Debug for RoleSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleSetup")
            .field("schema", &self.schema)
            .field(
                "migrator_password",
                &self.migrator_password.as_ref().map(|_| "***"),
            )
            .field("app_password", &self.app_password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// SQL that creates (or repairs) both roles and the schema in the database
/// it runs in. Run it once per database as a superuser (or a role with
/// CREATEROLE that may grant on the database); it is idempotent and takes an
/// advisory lock so concurrent runs do not collide.
pub fn role_setup_sql(setup: &RoleSetup) -> Result<String, StoreError> {
    let schema = setup.schema.as_deref().unwrap_or("public");
    check_schema_name(schema)?;
    let password = |role: &str, pw: &Option<String>| match pw {
        Some(pw) => format!("ALTER ROLE {role} PASSWORD {};\n", literal(pw)),
        None => String::new(),
    };
    Ok(format!(
        r#"BEGIN;
SELECT pg_advisory_xact_lock(hashtext('hale_role_setup'));
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{MIGRATOR_ROLE}') THEN
        CREATE ROLE {MIGRATOR_ROLE} LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} LOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO {MIGRATOR_ROLE}, {APP_ROLE}', current_database());
END
$$;
-- Enforced even on roles that existed before: neither may bypass row-level
-- security, and the application role may not create anything.
ALTER ROLE {MIGRATOR_ROLE} NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB;
ALTER ROLE {APP_ROLE} NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB;
{migrator_pw}{app_pw}CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {MIGRATOR_ROLE};
ALTER SCHEMA {schema} OWNER TO {MIGRATOR_ROLE};
REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC;
GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE};
COMMIT;
"#,
        migrator_pw = password(MIGRATOR_ROLE, &setup.migrator_password),
        app_pw = password(APP_ROLE, &setup.app_password),
    ))
}

/// Runs [`role_setup_sql`] with the superuser URL `admin_url`.
pub async fn setup_roles(admin_url: &str, setup: &RoleSetup) -> Result<(), StoreError> {
    let sql = role_setup_sql(setup)?;
    let mut conn = PgConnection::connect(admin_url)
        .await
        .map_err(|e| error::context(error::db(e), &redact(admin_url)))?;
    // The SQL is built from validated identifiers and quoted literals only.
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .map_err(error::db)?;
    let _ = conn.close().await;
    Ok(())
}

/// Refuses a login that row-level security does not apply to: a superuser
/// or a role with BYPASSRLS sees every tenant's rows whatever
/// `hale.tenant` says, so isolation would silently be off. `Invalid` names
/// the login, the attribute and the fix.
pub(crate) async fn refuse_privileged_login(conn: &mut PgConnection) -> Result<(), StoreError> {
    let (user, superuser, bypass): (String, bool, bool) = sqlx::query_as(
        "SELECT rolname::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(error::db)?;
    let what = match (superuser, bypass) {
        (false, false) => return Ok(()),
        (true, _) => "is a superuser",
        (false, true) => "has BYPASSRLS",
    };
    Err(StoreError::Invalid(format!(
        "refusing to run as database login {user:?}: it {what}, so row-level security does not \
         apply and every tenant's records would be visible to every request. Connect as \
         {APP_ROLE} (created by hale_postgres::role_setup_sql; see docs/stores.md), or make \
         your login NOSUPERUSER NOBYPASSRLS and a member of {APP_ROLE} \
         (ALTER ROLE {user} NOSUPERUSER NOBYPASSRLS; GRANT {APP_ROLE} TO {user})"
    )))
}

/// A SQL string literal (standard_conforming_strings is on since 9.1).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_sql_quotes_passwords_and_checks_the_schema() {
        let sql = role_setup_sql(&RoleSetup {
            schema: Some("hale".into()),
            migrator_password: Some("it's".into()),
            app_password: None,
        })
        .unwrap();
        assert!(sql.contains("ALTER ROLE hale_migrator PASSWORD 'it''s';"));
        assert!(!sql.contains("ALTER ROLE hale_app PASSWORD"));
        assert!(sql.contains("CREATE SCHEMA IF NOT EXISTS hale AUTHORIZATION hale_migrator"));
        assert!(
            role_setup_sql(&RoleSetup {
                schema: Some("x; DROP TABLE y".into()),
                ..RoleSetup::default()
            })
            .is_err()
        );
    }
}
