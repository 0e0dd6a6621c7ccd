//! Every route of the HTTP API through `Router::oneshot`, over in-memory
//! ports (`hale_testkit::Kit`): authentication and tenancy, intake of the
//! real Alertmanager payloads, reads with filters, acts, and the
//! operations endpoints; and the operator console's pages and forms.

mod acts;
mod auth;
mod console;
mod console_acts;
mod console_support;
mod intake;
mod knowledge;
mod notifications;
mod ops;
mod reads;
mod support;
