//! # hale-load
//!
//! Proof under load for Hale: a load generator, an alert storm and the
//! helpers the chaos tests (`tests/hale-chaos`) share.
//!
//! * [`workload`]: the intake mix (repeats, refires, new fingerprints,
//!   resolutions) as a deterministic sequence of batches, rendered as
//!   Alertmanager webhook bodies for Hale and as `/api/v2/alerts` arrays
//!   for the reference Alertmanager ([`alerts`]).
//! * [`driver`]: a closed-loop HTTP driver (N connections for a duration)
//!   measuring alerts/s and per-request and per-alert latency ([`stats`]).
//! * [`storm`]: 100,000 alerts over 1,000 resources with duplicates and
//!   flapping, posted as fast as the server takes them.
//! * [`config`]: the production-shaped `hale-server` configuration
//!   (Postgres, Redis, Kubernetes executor against the fake API server),
//!   or the same on the embedded SQLite store with in-process locks.
//! * [`kube`], [`api`], [`procfs`], [`cpu`]: counting what happened, on
//!   the executor's side (fake API counters), in Hale's records (its read
//!   API), in the server's memory (`VmHWM`) and in the CPU time the server
//!   and its backends used per alert.
//!
//! The `hale-load` binary drives all of it; `scripts/load.sh` and
//! `scripts/storm.sh` run it end to end with one command each, and
//! `docs/benchmarks.md` records the figures.

pub mod alerts;
pub mod api;
pub mod config;
pub mod cpu;
pub mod driver;
pub mod kube;
pub mod procfs;
pub mod report;
pub mod rng;
pub mod stats;
pub mod storm;
pub mod workload;
