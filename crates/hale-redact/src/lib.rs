//! # hale-redact
//!
//! Keeps secrets out of what Hale writes down: error messages, logs and the
//! audit log.
//!
//! * [`redact_url`] hides the credentials of a connection URL (Postgres,
//!   Redis, anything `scheme://`): the password in the user-info, even when
//!   it contains `@`, `:`, `/` or `?`, and every query parameter whose name
//!   says it holds a secret (`?password=`, `&sslpassword=`, `?token=`).
//! * [`Redactor`] rewrites free text (a command's stdout and stderr) with
//!   the built-in patterns ([`BUILTIN_PATTERNS`]: URL passwords,
//!   `password=...`-style pairs, bearer tokens, private keys, cloud access
//!   key ids) plus any configured ones.
//!
//! ```
//! use hale_redact::{Redactor, redact_url};
//!
//! assert_eq!(
//!     redact_url("postgres://hale_app:p@ss:w0rd@db:5432/hale?sslmode=require&password=x"),
//!     "postgres://hale_app:***@db:5432/hale?sslmode=require&password=***"
//! );
//! let r = Redactor::new(&["ticket-[0-9]+"]).unwrap();
//! assert_eq!(
//!     r.redact("export DB_PASSWORD=hunter2 (ticket-42)"),
//!     "export DB_PASSWORD=*** (***)"
//! );
//! ```

mod text;
mod url;

pub use text::{BUILTIN_PATTERNS, PatternError, Redactor};
pub use url::redact_url;

/// What a secret is replaced with.
pub const MASK: &str = "***";
