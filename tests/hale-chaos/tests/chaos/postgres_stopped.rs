//! Postgres stopped under a real Alertmanager: intake answers 503 with
//! `Retry-After`, Alertmanager retries, and after the restart every alert
//! it was given is recorded.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use hale_chaos::alertmanager::{Alertmanager, alertmanager_bin};
use hale_chaos::postgres::{PrivatePostgres, fresh_schema};
use hale_chaos::{World, eventually, unix_now};
use hale_load::alerts::{LoadAlert, v2_body};
use hale_load::api::HaleApi;

/// `TargetDown` on `svc-NNNN`: no strategy matches, so each alert is just
/// recorded (an incident per fingerprint), which is what is counted here.
fn target_down(service: u32, starts_at: i64) -> LoadAlert {
    LoadAlert {
        alertname: 3,
        service,
        pod: None,
        starts_at,
        ends_at: None,
    }
}

/// The distinct fingerprints Hale opened incidents for.
async fn recorded(api: &HaleApi) -> Option<BTreeSet<String>> {
    let items = api.list_all("/v1/incidents", "").await.ok()?;
    Some(
        items
            .iter()
            .filter_map(|i| i["fingerprint"].as_str().map(str::to_owned))
            .collect(),
    )
}

/// `hale_http_requests_total` for the webhook route with `status`.
async fn intake_answers(api: &HaleApi, status: u16) -> f64 {
    let key = format!(
        "hale_http_requests_total{{route=\"/v1/alerts/alertmanager\",status=\"{status}\"}}"
    );
    api.metrics()
        .await
        .ok()
        .and_then(|m| m.get(&key).copied())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_answers_503_alertmanager_retries_and_every_alert_is_recorded() {
    let test = "postgres_stopped_answers_503_alertmanager_retries_and_every_alert_is_recorded";
    let (Some(_), Some(redis), Some(pg_bin), Some(am_bin)) = (
        hale_testkit::services::database_url(test),
        hale_testkit::services::redis_url(test),
        hale_testkit::services::service_url("HALE_TEST_PG_BIN", test),
        alertmanager_bin(test),
    ) else {
        return;
    };
    let pg = PrivatePostgres::start(&PathBuf::from(pg_bin));
    let schema = fresh_schema(&pg.superuser_url()).await;
    let mut world = World::new(&schema, &redis, 0).await;
    world.config.store_acquire_timeout = "1s".into();
    world.config.retry_after = "2s".into();
    let server = world.start_server("hale").await;
    let api = world.api(&server);
    let am = Alertmanager::start(&am_bin, &server.url, &world.config.ingest_token).await;
    let now = unix_now() - 60;

    // Before the outage: ten alerts through Alertmanager, all recorded.
    let before: Vec<LoadAlert> = (0..10).map(|s| target_down(s, now)).collect();
    am.post_alerts(v2_body(&before)).await;
    eventually(Duration::from_secs(30), "the first ten alerts", || async {
        (recorded(&api).await?.len() == 10).then_some(())
    })
    .await;

    // The outage. Intake says 503 and when to come back.
    pg.stop_server();
    let direct = world
        .post(&server, &[target_down(99, now)], "http://am-direct:9093")
        .await;
    assert_eq!(direct.status, 503, "{:?}", direct.body);
    assert_eq!(direct.body["error"], "unavailable", "{:?}", direct.body);
    assert_eq!(direct.retry_after.as_deref(), Some("2"));
    let refused_before = intake_answers(&api, 503).await;

    // Ten more alerts reach Alertmanager during the outage; its deliveries
    // are refused, and it keeps trying.
    let during: Vec<LoadAlert> = (10..20).map(|s| target_down(s, now)).collect();
    am.post_alerts(v2_body(&during)).await;
    eventually(
        Duration::from_secs(30),
        "alertmanager to be refused and retry",
        || async { (intake_answers(&api, 503).await >= refused_before + 2.0).then_some(()) },
    )
    .await;
    let refused = intake_answers(&api, 503).await - refused_before;

    // Postgres comes back; Alertmanager's retries land.
    pg.start_server();
    let fingerprints = eventually(
        Duration::from_secs(60),
        "every alert to be recorded",
        || async {
            let r = recorded(&api).await?;
            (r.len() >= 20).then_some(r)
        },
    )
    .await;
    let incidents = api.list_all("/v1/incidents", "").await.unwrap();
    #[allow(clippy::print_stderr)] // the counts are this test's report
    {
        eprintln!(
            "postgres stopped: 20 alerts posted to Alertmanager (10 during the outage); {refused} webhook deliveries refused with 503 (+1 direct); after the restart {} incidents for {} distinct fingerprints",
            incidents.len(),
            fingerprints.len()
        );
    }
    // Hale's fingerprints are its own (identity labels), not
    // Alertmanager's: compare the sets by the services they name.
    let services: BTreeSet<String> = incidents
        .iter()
        .filter_map(|i| i["title"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(incidents.len(), 20, "{services:?}\n{}", am.log());
    assert_eq!(fingerprints.len(), 20);
    for s in 0..20 {
        let name = format!("TargetDown on prod/{}", hale_load::alerts::service_name(s));
        assert!(services.contains(&name), "{name} missing: {services:?}");
    }
    assert!(
        !services.iter().any(|t| t.contains("svc-0099")),
        "{services:?}"
    );
    server.stop().await;
}
