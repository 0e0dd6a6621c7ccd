//! Mapping sqlx errors into [`StoreError`] at the seam.
//!
//! Postgres reports failures by SQLSTATE class; the mapping follows the
//! classes so new codes land in the right bucket:
//!
//! | SQLSTATE | meaning | StoreError |
//! | --- | --- | --- |
//! | 23505 | unique violation (duplicate id) | `Conflict` |
//! | 23xxx | other integrity violations (check, not null, ...) | `Invalid` |
//! | 22xxx | data exceptions (out of range, NUL byte, bad encoding) | `Invalid` |
//! | 42501 | insufficient privilege, incl. a row-level security `WITH CHECK` failure | `Invalid` |
//! | P0001 | an exception raised by a migration's own check | `Invalid` |
//! | everything else | connection loss, timeouts (57014), shutdown, serialization, missing schema | `Unavailable` |
//!
//! Transport-level errors (IO, TLS, protocol, pool timeouts) are all
//! `Unavailable`: the server answers 503 and the sender retries.

use hale_engine::ports::StoreError;
use sqlx::migrate::MigrateError;

/// Maps a sqlx error to the port error.
pub(crate) fn db(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::Database(e) => {
            let code = e.code().map(|c| c.into_owned()).unwrap_or_default();
            let msg = match e.constraint() {
                Some(c) => format!("{} (constraint {c}, SQLSTATE {code})", e.message()),
                None => format!("{} (SQLSTATE {code})", e.message()),
            };
            match code.as_str() {
                "23505" => StoreError::Conflict(msg),
                "42501" | "P0001" => StoreError::Invalid(msg),
                c if c.starts_with("23") || c.starts_with("22") => StoreError::Invalid(msg),
                _ => StoreError::Unavailable(msg),
            }
        }
        sqlx::Error::Encode(e) => StoreError::Invalid(format!("cannot encode value: {e}")),
        e @ (sqlx::Error::Decode(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }) => {
            StoreError::Invalid(format!("stored row cannot be read: {e}"))
        }
        e @ (sqlx::Error::Configuration(_) | sqlx::Error::InvalidArgument(_)) => {
            StoreError::Invalid(format!("postgres configuration: {e}"))
        }
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable("timed out waiting for a postgres connection".into())
        }
        e => StoreError::Unavailable(format!("postgres: {e}")),
    }
}

/// Maps a migration error to the port error.
pub(crate) fn migration(err: MigrateError) -> StoreError {
    match err {
        MigrateError::Execute(e) => db(e),
        MigrateError::ExecuteMigration(e, version) => {
            context(db(e), &format!("migration {version}"))
        }
        // A database migrated by a newer Hale, a checksum mismatch or a
        // failed earlier run: a human must look; retrying cannot help.
        other => StoreError::Invalid(format!("migrations: {other}")),
    }
}

/// Prefixes an error's message with where it happened.
pub(crate) fn context(err: StoreError, at: &str) -> StoreError {
    match err {
        StoreError::NotFound(m) => StoreError::NotFound(format!("{at}: {m}")),
        StoreError::Conflict(m) => StoreError::Conflict(format!("{at}: {m}")),
        StoreError::Invalid(m) => StoreError::Invalid(format!("{at}: {m}")),
        StoreError::Unavailable(m) => StoreError::Unavailable(format!("{at}: {m}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_errors_are_unavailable() {
        assert!(matches!(
            db(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            db(sqlx::Error::Io(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused
            ))),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            db(sqlx::Error::PoolClosed),
            StoreError::Unavailable(_)
        ));
    }

    #[test]
    fn decode_errors_are_invalid() {
        assert!(matches!(
            db(sqlx::Error::ColumnNotFound("x".into())),
            StoreError::Invalid(_)
        ));
    }
}
