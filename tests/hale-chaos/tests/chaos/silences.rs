//! Silences against a real Alertmanager (issue 16): a tenant that names
//! its Alertmanager gets a silenced alert blocked (`silenced`), others
//! healed, and, once the Alertmanager is gone, automation fails closed
//! (`silence_check_unavailable`). The adapter is also asked directly.

use std::collections::BTreeMap;
use std::time::Duration;

use hale_alertmanager::{AlertmanagerSettings, AlertmanagerSilences};
use hale_chaos::alertmanager::{Alertmanager, alertmanager_bin};
use hale_chaos::postgres::fresh_schema;
use hale_chaos::{World, eventually, firing, unix_now};
use hale_engine::ports::{SilenceAnswer, SilenceQuery, SilenceSource};
use hale_load::alerts::v2_body;
use serde_json::{Value, json};

/// Creates a silence on `service` through Alertmanager's API; its id.
async fn silence(am: &Alertmanager, service: &str) -> String {
    let at = |s: i64| hale_domain::Timestamp::from_unix_secs(s).to_rfc3339();
    let now = unix_now();
    let body = json!({
        "matchers": [{"name": "service", "value": service, "isRegex": false, "isEqual": true}],
        "startsAt": at(now - 1),
        "endsAt": at(now + 3_600),
        "createdBy": "chaos test",
        "comment": "database maintenance"
    });
    let res = hale_chaos::client()
        .post(format!("{}/api/v2/silences", am.url))
        .json(&body)
        .send()
        .await
        .expect("create a silence");
    assert!(res.status().is_success(), "{}", res.status());
    let v: Value = res.json().await.expect("the silence id");
    v["silenceID"].as_str().expect("silenceID").to_owned()
}

fn labels(service: &str) -> BTreeMap<String, String> {
    [
        ("alertname", "HighErrorRate"),
        ("namespace", hale_load::alerts::NAMESPACE),
        ("service", service),
        ("severity", "critical"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silenced_alert_is_not_healed_and_an_unreachable_alertmanager_fails_closed() {
    let test = "a_silenced_alert_is_not_healed_and_an_unreachable_alertmanager_fails_closed";
    let (Some((admin, redis)), Some(am_bin)) =
        (hale_chaos::shared_services(test), alertmanager_bin(test))
    else {
        return;
    };
    // Alertmanager's own webhook goes nowhere: this test asks it, it does
    // not deliver.
    let am = Alertmanager::start(&am_bin, "http://127.0.0.1:9", "unused").await;
    let t0 = unix_now() - 60;
    am.post_alerts(v2_body(&[firing(0, t0), firing(1, t0)]))
        .await;
    let id = silence(&am, "svc-0000").await;

    // The adapter, asked directly: the silenced alert names its silence,
    // the other is not silenced.
    let source = AlertmanagerSilences::new(AlertmanagerSettings::default()).unwrap();
    let tenant = hale_domain::TenantId::new("t").unwrap();
    let (silenced, other) = (labels("svc-0000"), labels("svc-0001"));
    let ask = |labels: &BTreeMap<String, String>| {
        let (source, tenant, url) = (&source, &tenant, am.url.clone());
        let labels = labels.clone();
        async move {
            let q = SilenceQuery {
                tenant,
                alertmanager: &url,
                labels: &labels,
            };
            source.silenced(&q).await
        }
    };
    // Alertmanager marks the alert as soon as it evaluates the silence;
    // answers are cached, so a fresh source asks each round.
    eventually(
        Duration::from_secs(20),
        "the alert to show as silenced",
        || {
            let (url, silenced) = (am.url.clone(), silenced.clone());
            async move {
                let fresh = AlertmanagerSilences::new(AlertmanagerSettings::default()).ok()?;
                let tenant = hale_domain::TenantId::new("t").ok()?;
                let q = SilenceQuery {
                    tenant: &tenant,
                    alertmanager: &url,
                    labels: &silenced,
                };
                matches!(fresh.silenced(&q).await, Ok(SilenceAnswer::Silenced(_))).then_some(())
            }
        },
    )
    .await;
    assert_eq!(
        ask(&silenced).await.unwrap(),
        SilenceAnswer::Silenced(vec![id.clone()])
    );
    assert_eq!(ask(&other).await.unwrap(), SilenceAnswer::NotSilenced);

    // A server whose tenant names that Alertmanager.
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, 3).await;
    world.config.tenant_extra = format!("[tenants.alertmanager]\nurl = \"{}\"\n", am.url);
    world.config.detection_interval = "10m".into();
    let server = world.start_server("hale").await;
    let answer = world
        .post(&server, &[firing(0, t0)], "http://am-1:9093")
        .await;
    let outcome = &answer.body["decisions"][0]["outcome"];
    assert_eq!(outcome["decision"], "blocked", "{}", answer.body);
    assert_eq!(outcome["guard"], "silenced", "{}", answer.body);
    assert!(
        outcome["detail"].as_str().unwrap_or("").contains(&id),
        "{}",
        answer.body
    );
    let answer = world
        .post(&server, &[firing(1, t0)], "http://am-1:9093")
        .await;
    assert_eq!(answer.decisions(), ["operation_started"], "{}", answer.body);

    // Alertmanager gone: automation fails closed (the default).
    drop(am);
    let answer = world
        .post(&server, &[firing(2, t0)], "http://am-1:9093")
        .await;
    let outcome = &answer.body["decisions"][0]["outcome"];
    assert_eq!(
        outcome["guard"], "silence_check_unavailable",
        "{}",
        answer.body
    );
    server.stop().await;
}
