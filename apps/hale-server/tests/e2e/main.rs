//! End-to-end tests over real sockets: the `hale-server` binary as a
//! process (no-config start, SIGTERM, token hygiene), a real Alertmanager
//! delivering to an in-process server, and the production configuration
//! (Postgres, Redis, the Kubernetes executor against the in-repo fake API
//! server), and the operator console in Chromium (through chromedriver).
//! No test binds a fixed port.

mod alertmanager;
mod chrome;
mod console;
mod proc;
mod process;
mod production;
mod support;
