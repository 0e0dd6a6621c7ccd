//! The chaos tests: real processes, broken on purpose (see the crate docs
//! of `hale_chaos`). One test binary, one module per fault.

mod budget_replicas;
mod dormancy_shared;
mod effectiveness_replicas;
mod emergency_stop;
mod killed_mid_rollback;
mod ledger_pruning;
mod long_action;
mod notifications;
mod paused_holder;
mod postgres_stopped;
mod postgres_stopped_mid_run;
mod propagation;
mod redis_frozen;
mod redis_frozen_verifying;
mod replicas;
mod server_killed;
mod silences;
mod two_strategies;
mod window_replicas;
