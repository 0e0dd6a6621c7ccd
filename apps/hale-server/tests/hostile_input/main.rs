//! The hostile-input suite: one test per attack, each named after it.
//!
//! Every case runs in a fresh world of two tenants over in-memory ports
//! (`hale_testkit::Kit`) behind the real router (`Router::oneshot`):
//! tenant `a` is attacked, tenant `b` is the bystander. [`hostile`] takes a
//! picture of `b` before the attack (status, switches, breakers,
//! incidents, operations) and after it, requires them equal, and then has
//! `b` heal a fresh alert end to end, so no attack may switch Hale off for
//! anyone else or leave it unable to act.
//!
//! The world is configured the hostile way: the default `[limits]`,
//! `/metrics` behind a platform token, a command executor whose healing
//! command prints secrets, and (in one case) the Kubernetes executor against
//! the in-repo fake API server holding a deployment full of them.
//!
//! docs/reliability.md ("Hostile input") lists every case with what Hale
//! does.

mod world;

mod failsafes;
mod floods;
mod input;
mod metrics;
mod secrets;
