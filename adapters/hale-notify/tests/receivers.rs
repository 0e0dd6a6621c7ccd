//! Each channel against an in-process HTTP receiver (axum on 127.0.0.1:0)
//! that records what arrives; the webhook receiver verifies signatures the
//! way the Standard Webhooks specification tells receivers to.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hale_domain::notification::{Notice, NoticeKind, NoticeSubject};
use hale_domain::{ApprovalId, IncidentId, Severity, TenantId, Timestamp};
use hale_engine::ports::NotificationChannel;
use hale_notify::{Links, PagerDutyChannel, Secret, SlackChannel, WebhookChannel, WebhookSecret};
use hale_testkit::ManualClock;
use serde_json::Value;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

impl Received {
    fn all(&self) -> Vec<(HeaderMap, Bytes)> {
        self.0.lock().unwrap().clone()
    }
}

/// A receiver answering `status` and recording every request.
async fn receiver(status: StatusCode) -> (SocketAddr, Received) {
    let got = Received::default();
    let rec = got.clone();
    let app = Router::new().route(
        "/{*path}",
        post(move |headers: HeaderMap, body: Bytes| {
            let rec = rec.clone();
            async move {
                rec.0.lock().unwrap().push((headers, body));
                (status, "receiver says hi")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, got)
}

fn notice(kind: NoticeKind) -> Notice {
    Notice {
        id: format!("INC-7.{kind}"),
        tenant: Some(TenantId::new("shop").unwrap()),
        kind,
        severity: Severity::P0,
        subject: NoticeSubject {
            resource: Some("prod:deployment/checkout".into()),
            incident_id: Some(IncidentId::new("INC-7")),
            ..NoticeSubject::default()
        },
        summary: "P0 incident opened: HighErrorRate on <checkout> & co".into(),
        at: Timestamp::from_unix_secs(1_800_000_000),
    }
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name).unwrap().to_str().unwrap().to_owned()
}

#[tokio::test]
async fn webhook_requests_verify_as_standard_webhooks_and_carry_the_notice() {
    let (addr, got) = receiver(StatusCode::NO_CONTENT).await;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_800_000_123)));
    let channel = WebhookChannel::new(
        "hook",
        format!("http://{addr}/hale"),
        WebhookSecret::parse(SECRET).unwrap(),
        Links::new(Some("https://hale.example.com/")),
        clock,
        Duration::from_secs(5),
    );
    let n = notice(NoticeKind::IncidentOpened);
    channel.send(&n).await.unwrap();
    channel.send(&n).await.unwrap();

    let all = got.all();
    assert_eq!(all.len(), 2);
    let verifier = WebhookSecret::parse(SECRET).unwrap();
    for (h, body) in &all {
        let id = header(h, "webhook-id");
        let ts: i64 = header(h, "webhook-timestamp").parse().unwrap();
        assert_eq!(id, n.id, "the webhook id is the notice id on every attempt");
        assert_eq!(ts, 1_800_000_123);
        assert!(
            verifier.verify(&id, ts, body, &header(h, "webhook-signature")),
            "the signature verifies"
        );
        assert!(!verifier.verify(&id, ts, b"{}", &header(h, "webhook-signature")));
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["type"], "hale.incident_opened");
        assert_eq!(v["data"]["id"], n.id.as_str());
        assert_eq!(v["data"]["tenant"], "shop");
        assert_eq!(v["data"]["severity"], "P0");
        assert_eq!(v["data"]["subject"]["incident_id"], "INC-7");
        assert_eq!(
            v["data"]["url"],
            "https://hale.example.com/console/incidents/INC-7?tenant=shop"
        );
    }
}

#[tokio::test]
async fn slack_gets_block_kit_with_a_link_to_the_approval() {
    let (addr, got) = receiver(StatusCode::OK).await;
    let channel = SlackChannel::new(
        "ops-slack",
        Secret::new(format!("http://{addr}/services/T000/B000/XXXX")),
        Links::new(Some("https://hale.example.com")),
        Duration::from_secs(5),
    );
    let mut n = notice(NoticeKind::ApprovalRequested);
    n.subject.approval_id = Some(ApprovalId::new("apr-9"));
    channel.send(&n).await.unwrap();
    let all = got.all();
    assert_eq!(all.len(), 1);
    let v: Value = serde_json::from_slice(&all[0].1).unwrap();
    assert!(v["text"].as_str().unwrap().starts_with("[P0] "));
    let blocks = v["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "Approval requested");
    let section = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(section.contains("tenant `shop`"), "{section}");
    assert!(
        section.contains("&lt;checkout&gt; &amp; co"),
        "mrkdwn is escaped: {section}"
    );
    assert!(
        blocks[2]["elements"][0]["text"]
            .as_str()
            .unwrap()
            .contains("INC-7.approval_requested")
    );
    assert_eq!(
        blocks[3]["elements"][0]["url"],
        "https://hale.example.com/console/approvals/apr-9?tenant=shop"
    );

    // Without a public URL there is no button.
    let plain = hale_notify::slack_message(&n, &Links::new(None));
    assert_eq!(plain["blocks"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn pagerduty_triggers_then_resolves_with_the_incident_as_dedup_key() {
    let (addr, got) = receiver(StatusCode::ACCEPTED).await;
    let channel = PagerDutyChannel::new(
        "pager",
        Secret::new("R0UTINGKEY"),
        format!("http://{addr}/v2/enqueue"),
        Links::new(Some("https://hale.example.com")),
        Duration::from_secs(5),
    );
    channel
        .send(&notice(NoticeKind::IncidentOpened))
        .await
        .unwrap();
    let mut resolved = notice(NoticeKind::IncidentResolved);
    resolved.severity = Severity::P0;
    channel.send(&resolved).await.unwrap();
    let all = got.all();
    assert_eq!(all.len(), 2);
    let trigger: Value = serde_json::from_slice(&all[0].1).unwrap();
    let resolve: Value = serde_json::from_slice(&all[1].1).unwrap();
    assert_eq!(trigger["routing_key"], "R0UTINGKEY");
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(trigger["dedup_key"], "INC-7");
    assert_eq!(resolve["dedup_key"], "INC-7");
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert_eq!(trigger["payload"]["source"], "hale");
    assert_eq!(trigger["payload"]["group"], "shop");
    assert_eq!(
        trigger["payload"]["custom_details"]["notice_id"],
        "INC-7.incident_opened"
    );
    assert_eq!(
        trigger["links"][0]["href"],
        "https://hale.example.com/console/incidents/INC-7?tenant=shop"
    );
}

#[tokio::test]
async fn a_refusing_receiver_is_an_error_that_names_no_url_or_key() {
    let (addr, got) = receiver(StatusCode::SERVICE_UNAVAILABLE).await;
    let slack = SlackChannel::new(
        "ops-slack",
        Secret::new(format!("http://{addr}/services/T000/B000/SECRETTOKEN")),
        Links::default(),
        Duration::from_secs(5),
    );
    let err = slack
        .send(&notice(NoticeKind::IncidentOpened))
        .await
        .unwrap_err();
    assert!(err.0.contains("503"), "{err}");
    assert!(!err.0.contains("SECRETTOKEN"), "{err}");
    assert_eq!(got.all().len(), 1);

    // Nobody listening: a connection error, again without the URL.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let gone = SlackChannel::new(
        "ops-slack",
        Secret::new(format!("http://{closed}/services/SECRETTOKEN")),
        Links::default(),
        Duration::from_secs(2),
    );
    let err = gone
        .send(&notice(NoticeKind::IncidentOpened))
        .await
        .unwrap_err();
    assert!(!err.0.contains("SECRETTOKEN"), "{err}");
}
