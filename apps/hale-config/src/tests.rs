use std::time::Duration;

use hale_domain::kill_switch::{Feature, Switch};
use hale_engine::ports::NamespacePolicy;

use super::*;

const TOKEN_HASH: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

fn minimal_tenant() -> &'static str {
    r#"
[[tenants]]
id = "shop"
namespaces = ["prod"]

[[tenants.strategies]]
id = "restart"
risk = "low"
trigger = { alertnames = ["HighErrorRate"] }
target = { kind = "deployment" }
actions = [{ kind = "rollout_restart" }]
"#
}

fn errors(text: &str) -> Vec<String> {
    parse_str(text, "hale.toml")
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn both_shipped_examples_parse() {
    let minimal = load_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../hale-server/examples/config/minimal.toml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(minimal.tenants.len(), 1);
    let prod = load_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../hale-server/examples/config/production.toml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(prod.store.kind, StoreKind::Postgres);
    assert_eq!(prod.locks.kind, LocksKind::Redis);
    assert_eq!(prod.executor.kind, ExecutorKind::Kubernetes);
    assert_eq!(prod.tokens.len(), 4);
    let policies = prod.tenant_policies();
    assert_eq!(policies[0].strategies.len(), 2);
    assert_eq!(
        policies[0].namespaces,
        NamespacePolicy::Only(vec!["shop-prod".into(), "shop-staging".into()])
    );
    assert!(policies[0].validate().is_empty());
}

#[test]
fn the_builtin_config_is_the_documented_default() {
    let c = Config::builtin().unwrap();
    assert_eq!(c.origin, BUILTIN_ORIGIN);
    assert_eq!(c.server.listen, DEFAULT_LISTEN);
    assert_eq!(
        c.server.data_dir,
        std::path::PathBuf::from(DEFAULT_DATA_DIR)
    );
    assert_eq!(c.server.body_limit, DEFAULT_BODY_LIMIT);
    assert_eq!(c.store.kind, StoreKind::Sqlite);
    assert_eq!(c.locks.kind, LocksKind::Local);
    assert_eq!(c.executor.kind, ExecutorKind::DryRun);
    assert!(c.tokens.is_empty());
    let p = &c.tenant_policies()[0];
    assert_eq!(p.tenant.as_str(), "default");
    assert_eq!(p.namespaces, NamespacePolicy::Any);
    let s = &p.strategies[0];
    assert_eq!(s.actions[0].kind.as_str(), "rollout_restart");
    assert_eq!(s.risk, hale_domain::RiskLevel::Low);
    assert_eq!(c.engine_config(), hale_engine::EngineConfig::default());
    assert_eq!(
        c.sqlite_path(),
        std::path::PathBuf::from(".hale-data/hale.db")
    );
}

#[test]
fn the_demo_strategy_matches_the_example_alert() {
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../hale-server/examples/alerts/alertmanager-webhook.json"
    ))
    .unwrap();
    let alerts = hale_domain::alertmanager::parse_alerts(&body).unwrap();
    let c = Config::builtin().unwrap();
    let strategies = &c.tenant_policies()[0].strategies;
    let s = hale_domain::strategy::find_strategy(strategies, &alerts[0]).unwrap();
    assert_eq!(
        s.target.resolve(&alerts[0]).unwrap().key(),
        "prod:deployment/checkout"
    );
}

#[test]
fn a_syntax_error_has_line_and_column() {
    let e = errors("[server]\nlisten = \"127.0.0.1:1\"\nbody_limit = = 3\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("hale.toml:3:"), "{e:?}");
}

#[test]
fn unknown_keys_are_errors_at_their_line() {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:1\"\nlisten_port = 3\n{}",
        minimal_tenant()
    );
    let e = errors(&text);
    assert!(e[0].starts_with("hale.toml:3:1: "), "{e:?}");
    assert!(e[0].contains("listen_port"), "{e:?}");
}

#[test]
fn a_bad_type_deep_in_a_strategy_is_located() {
    let text = minimal_tenant().replace("risk = \"low\"", "risk = \"tiny\"");
    let e = errors(&text);
    assert!(e[0].starts_with("hale.toml:8:8: "), "{e:?}");
    assert!(e[0].contains("tiny"), "{e:?}");
}

#[test]
fn policy_problems_point_at_the_key() {
    let text = minimal_tenant().replace(
        "actions = [{ kind = \"rollout_restart\" }]",
        "actions = [{ kind = \"rollout_restart\" }, { kind = \"scale\", timeout = \"0s\" }]",
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    // Line 11, at the `"0s"` of the second action.
    assert!(e[0].starts_with("hale.toml:11:70: "), "{e:?}");
    assert!(
        e[0].contains("tenants[0].strategies[0].actions[1].timeout: must be positive"),
        "{e:?}"
    );
}

#[test]
fn a_problem_with_a_defaulted_key_points_at_its_table() {
    // The key exists: it is reported where it is.
    let text = minimal_tenant().replace("risk = \"low\"", "risk = \"high\"\npath = \"automatic\"");
    let e = errors(&text);
    assert!(
        e[0].starts_with("hale.toml:9:8: tenants[0].strategies[0].path: "),
        "{e:?}"
    );
    // `within_window` is absent: the problem is reported at its table.
    let text = minimal_tenant().replace(
        "trigger = { alertnames = [\"HighErrorRate\"] }",
        "trigger = { alertnames = [\"HighErrorRate\"], consecutive_failures = 3 }",
    );
    let e = errors(&text);
    assert!(
        e[0].starts_with("hale.toml:9:11: tenants[0].strategies[0].trigger.within_window: "),
        "{e:?}"
    );
    // `max_attempts = 0` sits in the strategy's table.
    let text = minimal_tenant().replace("id = \"restart\"", "id = \"restart\"\nmax_attempts = 0");
    let e = errors(&text);
    assert!(
        e[0].starts_with(
            "hale.toml:8:16: tenants[0].strategies[0].max_attempts: must be at least 1"
        ),
        "{e:?}"
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let text = format!(
        "[server]\nlisten = \"nowhere\"\n{}\n[[tokens]]\nname = \"x\"\ntenant = \"other\"\nrole = \"admin\"\nsha256 = \"abc\"\n",
        minimal_tenant()
    );
    let e = errors(&text);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].contains("server.listen"));
    assert!(e[1].contains("tokens[0].tenant") && e[1].contains("\"other\""));
    assert!(e[2].contains("tokens[0].sha256"));
}

#[test]
fn tokens_are_checked() {
    let tok = |name: &str, hash: &str| {
        format!(
            "[[tokens]]\nname = \"{name}\"\ntenant = \"*\"\nrole = \"viewer\"\nsha256 = \"{hash}\"\n"
        )
    };
    let ok = format!("{}{}", minimal_tenant(), tok("a", TOKEN_HASH));
    assert_eq!(
        parse_str(&ok, "x").unwrap().tokens[0].role,
        crate::role::Role::Viewer
    );
    let dup = format!("{ok}{}", tok("a", &TOKEN_HASH.replace('2', "3")));
    assert!(errors(&dup)[0].contains("used twice"));
    let same = format!("{ok}{}", tok("b", TOKEN_HASH));
    assert!(errors(&same)[0].contains("configured twice"));
    let upper = format!(
        "{}{}",
        minimal_tenant(),
        tok("a", &TOKEN_HASH.to_uppercase())
    );
    assert!(errors(&upper)[0].contains("lower-case hex"));
    assert!(!format!("{:?}", parse_str(&ok, "x").unwrap().tokens[0]).contains(TOKEN_HASH));
}

#[test]
fn tenants_are_required_and_unique() {
    assert!(errors("")[0].contains("no [[tenants]]"));
    let twice = format!("{}{}", minimal_tenant(), minimal_tenant());
    assert!(
        errors(&twice)
            .iter()
            .any(|e| e.contains("configured twice"))
    );
    let bad_id = minimal_tenant().replace("id = \"shop\"", "id = \"Shop!\"");
    assert!(
        errors(&bad_id)[0].starts_with("hale.toml:3:6:"),
        "{:?}",
        errors(&bad_id)
    );
    let no_ns = minimal_tenant().replace("namespaces = [\"prod\"]", "namespaces = []");
    assert!(errors(&no_ns)[0].contains("tenants[0].namespaces"));
}

#[test]
fn humane_values_parse() {
    let text = format!(
        "[server]\nbody_limit = \"512KiB\"\nrequest_timeout = \"1.5s\"\n[engine]\ndetection_interval = \"2m\"\n[flags]\nauto_healing = false\n{}",
        minimal_tenant()
    );
    let c = parse_str(&text, "x").unwrap();
    assert_eq!(c.server.body_limit, 512 * 1024);
    assert_eq!(c.server.request_timeout, Duration::from_millis(1500));
    assert_eq!(
        c.engine_config().detection_interval,
        Duration::from_secs(120)
    );
    assert_eq!(
        c.global_flags().features.get(&Feature::AutoHealing),
        Some(&Switch::Off)
    );
    let bad = format!("[server]\nbody_limit = \"1 parsec\"\n{}", minimal_tenant());
    assert!(
        errors(&bad)[0].starts_with("hale.toml:2:14:"),
        "{:?}",
        errors(&bad)
    );
}

#[test]
fn switches_and_fatal_patterns_reach_the_policy() {
    let text = minimal_tenant().replace(
        "namespaces = [\"prod\"]",
        "namespaces = [\"prod\"]\nfatal_patterns = [\"quota exceeded\"]\nswitches = { tenant = \"off\", action_kinds = { evict_pod = \"off\" } }",
    );
    let p = &parse_str(&text, "x").unwrap().tenant_policies()[0];
    assert_eq!(p.switches.tenant, Some(Switch::Off));
    assert_eq!(p.switches.action_kinds.len(), 1);
    assert!(
        p.classifier
            .rules()
            .iter()
            .any(|(pat, _)| pat == "quota exceeded")
    );
    let typo = minimal_tenant().replace(
        "namespaces = [\"prod\"]",
        "namespaces = [\"prod\"]\nswitches = { tenants = \"off\" }",
    );
    assert!(errors(&typo)[0].contains("tenants"));
}

#[test]
fn environment_overrides_win_over_the_file() {
    let mut c = Config::builtin().unwrap();
    c.apply_env([
        ("HALE_LISTEN", "127.0.0.1:9999"),
        ("HALE_DATA_DIR", "/tmp/hale-x"),
        ("HALE_DATABASE_URL", "postgres://hale_app@db/hale"),
        ("HALE_REDIS_URL", "redis://r:6379"),
        ("HALE_EXECUTOR", "command"),
        ("UNRELATED", "x"),
    ])
    .unwrap();
    assert_eq!(c.server.listen, "127.0.0.1:9999");
    assert_eq!(c.server.data_dir, std::path::PathBuf::from("/tmp/hale-x"));
    assert_eq!(c.store.kind, StoreKind::Postgres);
    assert_eq!(c.store.url.as_deref(), Some("postgres://hale_app@db/hale"));
    assert_eq!(c.locks.kind, LocksKind::Redis);
    assert_eq!(c.executor.kind, ExecutorKind::Command);
    let e = c
        .apply_env([("HALE_EXECUTOR", "ssh"), ("HALE_LISTEN", "nowhere")])
        .unwrap_err();
    assert_eq!(e.0.len(), 2);
    assert!(e.to_string().contains("env HALE_EXECUTOR"));
    // Empty values are ignored rather than clearing settings.
    c.apply_env([("HALE_LISTEN", "")]).unwrap();
    assert_eq!(c.server.listen, "127.0.0.1:9999");
}

#[test]
fn command_executor_entries_are_checked_with_their_index() {
    let text = format!(
        "[executor]\nkind = \"command\"\n[[executor.commands]]\nname = \"ok\"\nprogram = \"/bin/true\"\n[[executor.commands]]\nname = \"rel\"\nprogram = \"true\"\n{}",
        minimal_tenant()
    );
    let e = errors(&text);
    assert!(
        e[0].contains("executor.commands[1]") && e[0].contains("absolute"),
        "{e:?}"
    );
    assert!(e[0].starts_with("hale.toml:6:"), "{e:?}");
    let none = format!("[executor]\nkind = \"command\"\n{}", minimal_tenant());
    assert!(errors(&none)[0].contains("at least one [[executor.commands]]"));
}

#[test]
fn an_unreadable_file_names_itself() {
    let e = load_file("/nonexistent/hale.toml").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/hale.toml: cannot read"),
        "{e}"
    );
}

#[test]
fn limits_take_sizes_with_units_and_refuse_zero() {
    let text = format!(
        "[limits]\nlabel_value_bytes = \"2KiB\"\nlabels_per_alert = 10\n{}",
        minimal_tenant()
    );
    let c = parse_str(&text, "hale.toml").unwrap();
    assert_eq!(c.limits.label_value_bytes, 2048);
    assert_eq!(c.limits.labels_per_alert, 10);
    assert_eq!(
        c.limits.label_name_bytes,
        LimitsSection::default().label_name_bytes
    );
    let zero = format!("[limits]\nannotation_value_bytes = 0\n{}", minimal_tenant());
    let e = errors(&zero);
    assert!(
        e[0].starts_with("hale.toml:2:26: limits.annotation_value_bytes: must be positive"),
        "{e:?}"
    );
}

#[test]
fn a_shared_store_with_in_process_locks_is_refused_with_the_fix() {
    let text = format!(
        "[store]\nkind = \"postgres\"\n[locks]\nkind = \"local\"\n{}",
        minimal_tenant()
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("hale.toml:4:8: locks.kind: "), "{e:?}");
    assert!(
        e[0].contains("kind = \\\"redis\\\"") || e[0].contains("kind = \"redis\""),
        "{e:?}"
    );
    // Without a [locks] table the store's kind is where the problem shows.
    let text = format!("[store]\nkind = \"postgres\"\n{}", minimal_tenant());
    assert!(errors(&text)[0].starts_with("hale.toml:2:8: store.kind: "));
    // The environment can make the same pair after the file was checked.
    let mut c = Config::builtin().unwrap();
    let e = c
        .apply_env([("HALE_DATABASE_URL", "postgres://hale_app@db/hale")])
        .unwrap_err();
    assert!(e.to_string().contains("HALE_REDIS_URL"), "{e}");
    c.apply_env([("HALE_REDIS_URL", "redis://r:6379")]).unwrap();
    assert!(c.check_replica_safety().is_ok());
}

#[test]
fn redaction_patterns_are_compiled_at_check_time() {
    let text = format!(
        "[executor]\nredact_patterns = [\"ok-[0-9]+\", \"(unclosed\"]\nmax_output_bytes = \"4KiB\"\n{}",
        minimal_tenant()
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("hale.toml:2:"), "{e:?}");
    assert!(e[0].contains("executor.redact_patterns[1]"), "{e:?}");
    let good = text.replace(", \"(unclosed\"", "");
    let c = parse_str(&good, "hale.toml").unwrap();
    assert_eq!(c.executor.command_config(&[]).max_output_bytes, 4096);
    assert_eq!(
        c.executor.command_config(&[]).redact_patterns,
        ["ok-[0-9]+"]
    );
}

#[test]
fn a_lock_ttl_too_short_for_its_heartbeat_is_refused_where_it_is_set() {
    // Local locks: a heartbeat under a second.
    let text = format!(
        "[engine]\nautomatic_lock_ttl = \"2s\"\n{}",
        minimal_tenant()
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("hale.toml:2:22: engine.automatic_lock_ttl: "),
        "{e:?}"
    );
    assert!(e[0].contains("use at least 3s"), "{e:?}");
    // Redis with slow bounds: the heartbeat must leave room for two slow
    // extensions.
    let text = format!(
        "[locks]\nkind = \"redis\"\nurl = \"redis://r:6379\"\ncommand_timeout = \"2s\"\n\
         [engine]\nautomatic_lock_ttl = \"10s\"\n{}",
        minimal_tenant()
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("engine.automatic_lock_ttl"), "{e:?}");
    assert!(
        e[0].contains("locks.command_timeout + locks.connect_timeout"),
        "{e:?}"
    );
    // The defaults pass (5 minutes, a heartbeat every 100 s), and so does
    // the smallest TTL with local locks.
    assert!(parse_str(minimal_tenant(), "hale.toml").is_ok());
    let text = format!(
        "[engine]\nautomatic_lock_ttl = \"3s\"\n{}",
        minimal_tenant()
    );
    assert!(parse_str(&text, "hale.toml").is_ok());
}

#[test]
fn a_per_tenant_intake_limit_above_the_global_one_is_refused() {
    let text = format!(
        "[limits]\nintake_in_flight = 8\nintake_in_flight_per_tenant = 9\n{}",
        minimal_tenant()
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("hale.toml:3:31: limits.intake_in_flight_per_tenant: is 9, above"),
        "{e:?}"
    );
    let text = format!("[limits]\nintake_in_flight = 0\n{}", minimal_tenant());
    assert!(
        errors(&text)
            .iter()
            .any(|e| e.contains("limits.intake_in_flight: must be positive"))
    );
    let text = format!("[limits]\nintake_concurrency = 0\n{}", minimal_tenant());
    assert!(
        errors(&text)
            .iter()
            .any(|e| e.contains("limits.intake_concurrency: must be positive")),
        "{:?}",
        errors(&text)
    );
    let c = parse_str(
        &format!("[limits]\nintake_concurrency = 3\n{}", minimal_tenant()),
        "hale.toml",
    )
    .unwrap();
    assert_eq!(c.limits.intake_concurrency(), 3);
    assert!(LimitsSection::default().intake_concurrency() >= 4);
}

#[test]
fn the_policy_example_sets_budgets_windows_an_alertmanager_and_effectiveness() {
    let c = load_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/policy/policy.toml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let p = &c.tenant_policies()[0];
    assert!(p.validate().is_empty(), "{:?}", p.validate());
    let tenant = p.remediation.tenant.unwrap();
    assert_eq!(
        (
            tenant.max_in_flight,
            tenant.max_started,
            tenant.max_pods_disrupted
        ),
        (Some(5), Some(10), Some(30))
    );
    assert_eq!(
        p.remediation.namespaces["prod"].window,
        Duration::from_secs(1_800)
    );
    assert_eq!(p.windows.len(), 2);
    assert_eq!(p.windows[0].id, "weekend-patching");
    let am = p.silences.as_ref().unwrap();
    assert_eq!(am.alertmanager, "http://alertmanager.monitoring:9093");
    assert_eq!(
        am.on_unreachable,
        hale_domain::silence::OnUnreachable::Block
    );
    let e = &p.effectiveness;
    assert_eq!(
        (e.window, e.stabilization, e.chain_threshold, e.chain_window),
        (
            Duration::from_secs(600),
            Duration::from_secs(300),
            3,
            Duration::from_secs(3_600)
        )
    );
}

#[test]
fn policy_sections_are_checked_where_they_are_written() {
    let text = format!(
        "{}{}",
        minimal_tenant(),
        r#"
[tenants.budgets]
max_in_flight = 0

[[tenants.maintenance_windows]]
name = "w"
mode = "block"
reason = "x"
from = "2026-12-24T00:00:00Z"
until = "2026-12-23T00:00:00Z"

[[tenants.maintenance_windows]]
name = "w"
mode = "block"
reason = "x"
days = ["sat"]
start = "22:00"
duration = "2h"
time_zone = "Europe/Berlin"

[tenants.alertmanager]
url = "alertmanager:9093"
"#
    );
    let errs = errors(&text).join("\n");
    assert!(errs.contains("a cap of 0"), "{errs}");
    assert!(errs.contains("is not after start"), "{errs}");
    assert!(errs.contains("used twice"), "{errs}");
    assert!(
        errs.contains("must start with http:// or https://"),
        "{errs}"
    );
    let half = format!(
        "{}{}",
        minimal_tenant(),
        "\n[[tenants.maintenance_windows]]\nname = \"w\"\nmode = \"block\"\nreason = \"x\"\ndays = [\"sat\"]\n"
    );
    assert!(
        errors(&half)
            .join("\n")
            .contains("give either `from` and `until`"),
        "{:?}",
        errors(&half)
    );
    let zone = format!(
        "{}{}",
        minimal_tenant(),
        "\n[[tenants.maintenance_windows]]\nname = \"w\"\nmode = \"block\"\nreason = \"x\"\ndays = [\"sat\"]\nstart = \"22:00\"\nduration = \"2h\"\ntime_zone = \"Mars/Olympus\"\n"
    );
    assert!(
        errors(&zone).join("\n").contains("unknown time zone"),
        "{:?}",
        errors(&zone)
    );
}

/// Seed 002's 10 background tasks no longer hold Hale's own jobs and the
/// notification delivery: a smaller cap is refused where it is set,
/// rather than stopping the server at start; the lock probe needs a period.
#[test]
fn too_few_background_tasks_and_a_zero_lock_probe_are_refused() {
    let text = format!(
        "[engine]\nmax_background_tasks = 10\nlock_probe_interval = \"0s\"\n{}",
        minimal_tenant()
    );
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].contains("engine.max_background_tasks") && e[0].contains("at least 11"),
        "{e:?}"
    );
    assert!(e[1].contains("engine.lock_probe_interval"), "{e:?}");
    let ok = format!(
        "[engine]\nlock_probe_interval = \"2s\"\n{}",
        minimal_tenant()
    );
    let c = parse_str(&ok, "hale.toml").unwrap_or_else(|e| panic!("{e}"));
    let engine = c.engine_config();
    assert_eq!(
        engine.lock_probe_interval,
        std::time::Duration::from_secs(2)
    );
    assert_eq!(engine.max_background_tasks, 12);
}
