//! Every route of the HTTP API through `Router::oneshot`, over in-memory
//! ports (`hale_testkit::Kit`): authentication and tenancy, intake of the
//! real Alertmanager payloads, reads with filters, acts, and the
//! operations endpoints.

mod acts;
mod auth;
mod intake;
mod ops;
mod reads;
mod support;
