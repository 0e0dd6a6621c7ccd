//! Knowledge entries and incidents through the API: list and read entries
//! (a read counts a view), write a runbook, archive an anti-pattern to lift
//! its block, close an incident; each act audited with who and why, and
//! each tenant's records out of the other's reach.

use axum::http::StatusCode;
use hale_domain::alert::Alert;
use hale_domain::anti_pattern::SymptomsHash;
use hale_domain::record::knowledge::{EntrySource, EntryStatus, EntryType, KnowledgeEntry};
use hale_domain::{KnowledgeId, ResourceRef, StrategyId, Timestamp};

use hale_engine::ports::KnowledgeStore;
use serde_json::{Value, json};

use crate::support::*;

/// A minute later, resolves `HighErrorRate` on checkout and fires it again
/// (a new episode, starting at `starts_at`); returns the firing's decision.
async fn refire(api: &Api, starts_at: &str) -> Value {
    tokio::time::advance(std::time::Duration::from_secs(60)).await;
    let r = api
        .post(
            "/v1/alerts",
            A_INGEST,
            &generic("HighErrorRate", "checkout", "resolved"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut body = generic("HighErrorRate", "checkout", "firing");
    body["alerts"][0]["startsAt"] = json!(starts_at);
    let r = api.post("/v1/alerts", A_INGEST, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    api.engine.wait_idle().await;
    r.body["decisions"][0].clone()
}

/// The anti-pattern the engine writes when `restart` did not fix
/// `HighErrorRate` on `resource`.
fn anti_pattern(resource: &ResourceRef) -> KnowledgeEntry {
    let alert = Alert::firing([("alertname", "HighErrorRate"), ("severity", "critical")]);
    let at = Timestamp::from_unix_secs(1_795_564_800);
    KnowledgeEntry {
        id: KnowledgeId::new("kn-anti"),
        tenant: tenant("a"),
        title: "restart did not fix HighErrorRate".into(),
        content: "verification failed".into(),
        entry_type: EntryType::AntiPattern,
        category: "automatic".into(),
        tags: vec!["anti-pattern".into()],
        source: EntrySource::AiExtracted,
        status: EntryStatus::Approved,
        related_incident_id: None,
        related_playbook_id: None,
        symptoms_hash: Some(SymptomsHash::of(&alert, resource)),
        failed_strategy_id: Some(StrategyId::new("restart")),
        view_count: 0,
        created_by: None,
        created_at: at,
        updated_at: at,
    }
}

#[tokio::test(start_paused = true)]
async fn archiving_an_anti_pattern_lifts_its_block_and_is_audited() {
    let api = api().await;
    let d = api.fire(A_INGEST, "HighErrorRate", "checkout").await;
    assert_eq!(d["outcome"]["decision"], "operation_started", "{d}");
    let resource: ResourceRef = serde_json::from_value(d["outcome"]["resource"].clone()).unwrap();
    api.kit
        .store
        .create_knowledge(&anti_pattern(&resource))
        .await
        .unwrap();

    let d = refire(&api, "2026-11-23T17:30:00Z").await;
    assert_eq!(d["outcome"]["decision"], "blocked", "{d}");
    assert_eq!(d["outcome"]["guard"], "anti_pattern", "{d}");

    // Listed by type; listing counts no views, reading does.
    let r = api.get("/v1/knowledge?type=anti_pattern", A_VIEWER).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["items"][0]["id"], "kn-anti");
    assert_eq!(r.body["items"][0]["view_count"], 0);
    for n in 1..=2 {
        let r = api.get("/v1/knowledge/kn-anti", A_VIEWER).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["view_count"], n);
    }

    // Who may archive: an operator of the tenant, with a reason.
    let body = json!({"reason": "the cache was fixed; restart is fine again"});
    let r = api
        .post("/v1/knowledge/kn-anti/archive", A_VIEWER, &body)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = api
        .post("/v1/knowledge/kn-anti/archive", B_OPERATOR, &body)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = api
        .post(
            "/v1/knowledge/kn-anti/archive",
            A_OPERATOR,
            &json!({"reason": " "}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = api
        .post("/v1/knowledge/kn-anti/archive", A_OPERATOR, &body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "archived");
    let r = api
        .post("/v1/knowledge/kn-anti/archive", A_OPERATOR, &body)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

    let archived = audit(&api, "knowledge.archived").await;
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0]["executed_by"], "alice");
    assert_eq!(archived[0]["authorization_channel"], "manual");
    assert_eq!(archived[0]["target_resource"], "knowledge:kn-anti");
    assert!(
        archived[0]["reason"]
            .as_str()
            .unwrap()
            .contains("the cache was fixed"),
        "{}",
        archived[0]
    );

    // The block is lifted.
    let d = refire(&api, "2026-11-23T17:40:00Z").await;
    assert_eq!(d["outcome"]["decision"], "operation_started", "{d}");
}

#[tokio::test(start_paused = true)]
async fn a_runbook_is_written_by_an_operator_and_read_by_its_tenant_only() {
    let api = api().await;
    api.fire(A_INGEST, "HighErrorRate", "checkout").await;
    let incident = first_incident(&api).await;
    let body = json!({
        "title": "Checkout 5xx",
        "content": "Check the payment gateway first.",
        "tags": ["checkout"],
        "related_incident_id": incident,
    });
    let r = api.post("/v1/knowledge", A_VIEWER, &body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = api
        .post(
            "/v1/knowledge",
            A_OPERATOR,
            &json!({"title": "x", "content": ""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = api
        .post(
            "/v1/knowledge",
            A_OPERATOR,
            &json!({"title": "x", "content": "y", "related_incident_id": "INC-none"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = api.post("/v1/knowledge", A_OPERATOR, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["entry_type"], "runbook");
    assert_eq!(r.body["source"], "human");
    assert_eq!(r.body["status"], "approved");
    assert_eq!(r.body["created_by"], "alice");
    assert_eq!(r.body["category"], "runbook");

    let created = audit(&api, "knowledge.created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["executed_by"], "alice");

    // Tenant b neither lists nor reads it (and reading there counts nothing).
    let r = api.get("/v1/knowledge", B_OPERATOR).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    let r = api.get(&format!("/v1/knowledge/{id}"), B_OPERATOR).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = api
        .get(&format!("/v1/knowledge/{id}?tenant=b"), P_ADMIN)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = api.get(&format!("/v1/knowledge/{id}"), A_VIEWER).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["view_count"], 1);
    let r = api
        .get("/v1/knowledge?type=runbook&status=approved", A_VIEWER)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = api.get("/v1/knowledge?type=recipe", A_VIEWER).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
}

/// The newest incident of tenant a.
async fn first_incident(api: &Api) -> String {
    let r = api.get("/v1/incidents", A_VIEWER).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(start_paused = true)]
async fn an_incident_is_closed_once_with_a_reason_and_its_next_alert_opens_another() {
    let api = api().await;
    api.fire(A_INGEST, "HighErrorRate", "checkout").await;
    let id = first_incident(&api).await;
    let uri = format!("/v1/incidents/{id}/close");
    let body = json!({"reason": "false alarm: load test"});

    let r = api.post(&uri, A_VIEWER, &body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = api.post(&uri, B_OPERATOR, &body).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = api.post(&uri, A_OPERATOR, &json!({"reason": ""})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = api
        .call(axum::http::Method::POST, &uri, None, Some(&body))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);

    let r = api.post(&uri, A_OPERATOR, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "closed");
    assert!(r.body["closed_at"].is_string(), "{}", r.text);
    let r = api.post(&uri, A_OPERATOR, &body).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

    let closed = audit(&api, "incident.closed").await;
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["executed_by"], "alice");
    assert_eq!(closed[0]["incident_id"], id.as_str());
    assert_eq!(closed[0]["reason"], "false alarm: load test");
    let r = api
        .get(
            &format!("/v1/timeline?incident_id={id}&event_type=human"),
            A_VIEWER,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);

    // The alert fires again in a new episode: a new incident.
    refire(&api, "2026-11-23T17:30:00Z").await;
    assert_ne!(first_incident(&api).await, id);
    let r = api.get(&format!("/v1/incidents/{id}"), A_VIEWER).await;
    assert_eq!(r.body["status"], "closed", "{}", r.text);
}
