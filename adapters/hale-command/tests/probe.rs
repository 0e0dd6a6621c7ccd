//! The command health probe against real processes.

use std::time::Duration;

use hale_command::{CommandConfig, CommandHealthProbe, CommandSpec};
use hale_domain::failure::FailureClass;
use hale_domain::{ResourceRef, TenantId};
use hale_engine::ports::{Health, HealthProbe, NamespacePolicy, ProbeError, ProbeRequest};

fn probe() -> CommandHealthProbe {
    let mut slow = CommandSpec::new("slow", "/bin/sh", &["-c", "sleep 30"]);
    slow.timeout = Some(Duration::from_millis(300));
    let mut cfg = CommandConfig::with_commands(vec![
        CommandSpec::new("auto", "/bin/sh", &["-c", "test \"$0\" = nginx", "{name}"]),
        CommandSpec::new(
            "broken",
            "/bin/sh",
            &["-c", "echo 'port 80 closed'; exit 2"],
        ),
        CommandSpec::new("missing", "/bin/sh", &["-c", "exit 127"]),
        slow,
    ]);
    cfg.kill_grace = Duration::from_millis(200);
    CommandHealthProbe::new(cfg).unwrap()
}

async fn check(
    probe: &CommandHealthProbe,
    check: &str,
    resource: &str,
) -> Result<Health, ProbeError> {
    let tenant = TenantId::new("acme").unwrap();
    let resource = ResourceRef::parse(resource).unwrap();
    probe
        .check(ProbeRequest {
            tenant: &tenant,
            resource: &resource,
            check,
            namespaces: &NamespacePolicy::Only(vec!["web".to_owned()]),
        })
        .await
}

#[tokio::test]
async fn exit_zero_is_healthy_and_nonzero_unhealthy() {
    let p = probe();
    assert_eq!(
        check(&p, "auto", "web:unit/nginx").await.unwrap(),
        Health::Healthy
    );
    match check(&p, "auto", "web:unit/apache").await.unwrap() {
        Health::Unhealthy(why) => assert!(why.contains("exited 1"), "{why}"),
        other => panic!("expected unhealthy, got {other:?}"),
    }
    match check(&p, "broken", "web:unit/nginx").await.unwrap() {
        Health::Unhealthy(why) => assert!(why.contains("port 80 closed"), "{why}"),
        other => panic!("expected unhealthy, got {other:?}"),
    }
}

#[tokio::test]
async fn errors_carry_classes() {
    let p = probe();
    let e = check(&p, "nope", "web:unit/nginx").await.unwrap_err();
    assert_eq!(e.class, FailureClass::InvalidAction);
    let e = check(&p, "missing", "web:unit/nginx").await.unwrap_err();
    assert_eq!(e.class, FailureClass::InvalidAction);
    let e = check(&p, "slow", "web:unit/nginx").await.unwrap_err();
    assert_eq!(e.class, FailureClass::Timeout);
    let e = check(&p, "auto", "other:unit/nginx").await.unwrap_err();
    assert_eq!(e.class, FailureClass::InvalidAction);
}

#[test]
fn checks_cannot_declare_params() {
    let spec = CommandSpec::new("c", "/bin/true", &["{x}"]).with_params(&["x"]);
    let err = CommandHealthProbe::new(CommandConfig::with_commands(vec![spec])).unwrap_err();
    assert!(err.why.contains("params"), "{err}");
}
