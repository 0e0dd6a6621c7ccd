//! Mapping sqlx/SQLite errors into [`StoreError`] at the seam.
//!
//! SQLite reports extended result codes; the primary code is the low byte.
//!
//! | result code | meaning | StoreError |
//! | --- | --- | --- |
//! | 1555, 2067 | primary key / unique violation (duplicate id) | `Conflict` |
//! | other 19 (CONSTRAINT) | check, not null, STRICT datatype, ... | `Invalid` |
//! | 1 (ERROR), 18 (TOOBIG), 20 (MISMATCH), 25 (RANGE) | a statement or value SQLite refuses | `Invalid` |
//! | everything else | busy/locked past the busy timeout, IO errors, disk full, read-only, corrupt file | `Unavailable` |

use hale_engine::ports::StoreError;
use sqlx::migrate::MigrateError;

const SQLITE_CONSTRAINT_PRIMARYKEY: i32 = 1555;
const SQLITE_CONSTRAINT_UNIQUE: i32 = 2067;

/// Maps a sqlx error to the port error.
pub(crate) fn db(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::Database(e) => {
            let code: i32 = e.code().and_then(|c| c.parse().ok()).unwrap_or(0);
            let msg = format!("{} (SQLite result code {code})", e.message());
            match (code, code & 0xff) {
                (SQLITE_CONSTRAINT_PRIMARYKEY | SQLITE_CONSTRAINT_UNIQUE, _) => {
                    StoreError::Conflict(msg)
                }
                (_, 19 | 1 | 18 | 20 | 25) => StoreError::Invalid(msg),
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
            StoreError::Invalid(format!("sqlite configuration: {e}"))
        }
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable("timed out waiting for a sqlite connection".into())
        }
        e => StoreError::Unavailable(format!("sqlite: {e}")),
    }
}

/// Maps a migration error to the port error.
pub(crate) fn migration(err: MigrateError) -> StoreError {
    match err {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => db(e),
        // A file migrated by a newer Hale, a checksum mismatch or a failed
        // earlier run: a human must look; retrying cannot help.
        other => StoreError::Invalid(format!("migrations: {other}")),
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
                std::io::ErrorKind::PermissionDenied
            ))),
            StoreError::Unavailable(_)
        ));
    }
}
