//! The client commands against a real `hale-server`, started in this
//! process from the `hale_server` library on a random loopback port with a
//! temporary data directory (SQLite) and known tokens. Each test gets its
//! own server.

#[path = "../common/mod.rs"]
mod common;
mod server;

mod acts;
mod notifications;
mod reads;
