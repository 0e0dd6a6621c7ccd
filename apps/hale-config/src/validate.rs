//! Semantic checks of a parsed configuration: everything the types alone
//! cannot say. Each problem is located at its key in the source text.
//!
//! Settings that an environment variable may still supply (the Postgres
//! and Redis URLs) are checked when the server wires its backends, not
//! here, so a file that leaves them to `HALE_DATABASE_URL` is valid.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use hale_command::{CommandConfig, CommandExecutor, CommandHealthProbe};

use super::errors::ConfigError;
use super::{Config, ExecutorKind, LocksKind, LocksSection, StoreKind};

/// Why a shared store with in-process locks is refused, or `None` when the
/// pair is safe. Postgres is shared by every replica that points at it, but
/// in-process locks only exclude within one process: two replicas would
/// each take "the" lock on a deployment and restart it twice, and their
/// delivery keys would not see each other's.
pub(crate) fn shared_store_with_local_locks(config: &Config) -> Option<String> {
    (config.store.kind == StoreKind::Postgres && config.locks.kind == LocksKind::Local).then(|| {
        "[store] kind = \"postgres\" can be shared by several replicas, but [locks] kind = \"local\" \
         locks only inside one process, so two replicas could heal the same resource at once. \
         Set [locks] kind = \"redis\" with url (or HALE_REDIS_URL)"
            .to_owned()
    })
}

/// Every problem with `config`, located in `text`.
pub(super) fn validate(config: &Config, text: &str, origin: &str) -> Vec<ConfigError> {
    let mut out = Vec::new();
    let mut bad = |path: String, message: String| {
        out.push(ConfigError::at_path(origin, text, &path, message));
    };

    // [server]
    let s = &config.server;
    if let Err(e) = s.listen.parse::<SocketAddr>() {
        bad(
            "server.listen".into(),
            format!(
                "{:?} is not host:port ({e}); e.g. \"127.0.0.1:8080\"",
                s.listen
            ),
        );
    }
    if s.body_limit == 0 {
        bad("server.body_limit".into(), "must be positive".into());
    }
    for (key, d) in [
        ("request_timeout", s.request_timeout),
        ("ready_timeout", s.ready_timeout),
        ("drain_timeout", s.drain_timeout),
        ("session_lifetime", s.session_lifetime),
    ] {
        if d.is_zero() {
            bad(format!("server.{key}"), "must be positive".into());
        }
    }

    if let Some(url) = &s.public_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        bad(
            "server.public_url".into(),
            format!("{url:?} must start with https:// or http://"),
        );
    }

    // [executor]
    let x = &config.executor;
    if x.kind == ExecutorKind::Command && x.commands.is_empty() {
        bad(
            "executor.commands".into(),
            "executor kind \"command\" needs at least one [[executor.commands]]".into(),
        );
    }
    if let Err(e) = CommandExecutor::new(CommandConfig::with_commands(x.commands.clone())) {
        let i = x.commands.iter().position(|c| c.name == e.command);
        bad(
            i.map_or("executor.commands".into(), |i| {
                format!("executor.commands[{i}]")
            }),
            e.why,
        );
    }
    if let Err(e) = CommandHealthProbe::new(CommandConfig::with_commands(x.checks.clone())) {
        let i = x.checks.iter().position(|c| c.name == e.command);
        bad(
            i.map_or("executor.checks".into(), |i| {
                format!("executor.checks[{i}]")
            }),
            e.why,
        );
    }
    for (i, p) in x.redact_patterns.iter().enumerate() {
        if let Err(e) = hale_redact::Redactor::new(&[p]) {
            bad(format!("executor.redact_patterns[{i}]"), e.why);
        }
    }
    if x.max_output_bytes == Some(0) {
        bad(
            "executor.max_output_bytes".into(),
            "must be positive".into(),
        );
    }
    if [x.kubeconfig.is_some(), x.api_url.is_some(), x.in_cluster]
        .iter()
        .filter(|set| **set)
        .count()
        > 1
    {
        bad(
            "executor".into(),
            "set at most one of kubeconfig, api_url and in_cluster".into(),
        );
    }

    // [engine]
    let e = &config.engine;
    // The engine's own jobs and notification delivery are registered at
    // start; fewer slots would stop the server from starting.
    let needed = hale_engine::task_id::ALL.len() + 1;
    if e.max_background_tasks < needed {
        bad(
            "engine.max_background_tasks".into(),
            format!("must be at least {needed} (Hale's own jobs and notification delivery)"),
        );
    }
    if e.lock_probe_interval.is_zero() {
        bad(
            "engine.lock_probe_interval".into(),
            "must be positive".into(),
        );
    }
    if e.global_dormancy_threshold == 0 {
        bad(
            "engine.global_dormancy_threshold".into(),
            "must be at least 1".into(),
        );
    }
    if let Some(why) = lease_too_short(e.automatic_lock_ttl, &config.locks) {
        bad("engine.automatic_lock_ttl".into(), why);
    }

    // [[tenants]]
    if config.tenants.is_empty() {
        bad(
            "tenants".into(),
            "no [[tenants]] configured; add at least one with id, namespaces and strategies".into(),
        );
    }
    let mut tenant_ids = BTreeSet::new();
    for (i, t) in config.tenants.iter().enumerate() {
        if !tenant_ids.insert(t.id.as_str()) {
            bad(
                format!("tenants[{i}].id"),
                format!("tenant {:?} is configured twice", t.id.as_str()),
            );
        }
        if t.namespaces.is_empty() {
            bad(
                format!("tenants[{i}].namespaces"),
                "must list at least one namespace, or [\"*\"] for any".into(),
            );
        }
        for (j, n) in t.namespaces.iter().enumerate() {
            if n.trim().is_empty() {
                bad(
                    format!("tenants[{i}].namespaces[{j}]"),
                    "must not be empty".into(),
                );
            }
        }
        for (j, p) in t.fatal_patterns.iter().enumerate() {
            if p.trim().is_empty() {
                bad(
                    format!("tenants[{i}].fatal_patterns[{j}]"),
                    "must not be empty".into(),
                );
            }
        }
        if let Some(am) = &t.alertmanager
            && !(am.url.starts_with("http://") || am.url.starts_with("https://"))
        {
            bad(
                format!("tenants[{i}].alertmanager.url"),
                format!(
                    "{:?} must start with http:// or https://",
                    hale_redact::redact_url(&am.url)
                ),
            );
        }
        for problem in t.to_policy().validate() {
            bad(format!("tenants[{i}].{}", problem.path), problem.message);
        }
    }

    // [[tokens]]
    let mut names = BTreeSet::new();
    let mut hashes: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, tok) in config.tokens.iter().enumerate() {
        if tok.name.trim().is_empty() {
            bad(format!("tokens[{i}].name"), "must not be empty".into());
        } else if !names.insert(tok.name.as_str()) {
            bad(
                format!("tokens[{i}].name"),
                format!(
                    "token name {:?} is used twice; names are identities",
                    tok.name
                ),
            );
        }
        if tok.tenant != "*" && !tenant_ids.contains(tok.tenant.as_str()) {
            bad(
                format!("tokens[{i}].tenant"),
                format!(
                    "{:?} is not a configured tenant (use one of {:?}, or \"*\" for a platform token)",
                    tok.tenant, tenant_ids
                ),
            );
        }
        let hex_ok = tok.sha256.len() == 64
            && tok
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex_ok {
            bad(
                format!("tokens[{i}].sha256"),
                "must be 64 lower-case hex characters: the SHA-256 of the token (`hale-server hash-token` prints it), never the token itself".into(),
            );
        } else if let Some(first) = hashes.insert(tok.sha256.as_str(), i) {
            bad(
                format!("tokens[{i}].sha256"),
                format!("the same token is configured twice (also tokens[{first}])"),
            );
        }
    }
    // [store] with [locks]
    if let Some(why) = shared_store_with_local_locks(config) {
        let at = if super::span::locate(text, "locks").is_some() {
            "locks.kind"
        } else {
            "store.kind"
        };
        out.push(ConfigError::at_path(origin, text, at, why));
    }

    // [notifications]
    out.extend(super::notifications::validate(
        &config.notifications,
        &tenant_ids,
        text,
        origin,
    ));

    // [limits]
    out.extend(super::limits::validate(&config.limits, text, origin));
    out
}

/// Why a lock TTL is too short for the lease heartbeat it implies, if it
/// is. A run extends its lock every third of the TTL while it acts
/// ([`hale_engine::heartbeat`]); each extension may take up to the lock
/// backend's bound (Redis: a pooled connection plus one command). The
/// period must leave room for that twice over, and be at least a second,
/// or a healthy run loses its lease to a slow extension.
pub(crate) fn lease_too_short(ttl: Duration, locks: &LocksSection) -> Option<String> {
    let period = hale_engine::heartbeat::heartbeat_period(ttl);
    let bound = match locks.kind {
        LocksKind::Redis => {
            locks
                .command_timeout
                .unwrap_or(super::REDIS_COMMAND_TIMEOUT)
                + locks
                    .connect_timeout
                    .unwrap_or(super::REDIS_CONNECT_TIMEOUT)
        }
        LocksKind::Local => Duration::ZERO,
    };
    let floor = (bound * 2).max(Duration::from_secs(1));
    (period < floor).then(|| {
        let show = hale_domain::time::duration::format;
        format!(
            "{} implies a lease heartbeat every {} (a third of it), shorter than {}{}; \
             use at least {}",
            show(ttl),
            show(period),
            show(floor),
            if bound.is_zero() {
                String::new()
            } else {
                format!(
                    " (twice the lock backend's bound per extension, locks.command_timeout + \
                     locks.connect_timeout = {})",
                    show(bound)
                )
            },
            show(floor * 3),
        )
    })
}
