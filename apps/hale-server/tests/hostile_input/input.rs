//! Requests and alerts that are malformed or oversized, and labels that try to name a target outside the alert's own.

use super::world::*;

#[tokio::test]
async fn tz_with_a_multibyte_character_is_refused_not_a_panic() {
    hostile(|w| async move {
        for tz in [
            "%2B1%C3%A91",
            "%2B%C3%A9%C3%A9",
            "-%F0%9F%98%80",
            "%2B-1:%2B5",
            "%C3%A9",
        ] {
            for path in ["/v1/switches", "/v1/status", "/v1/operations", "/v1/audit"] {
                let r = w.get(&format!("{path}?tz={tz}"), Some(A_VIEWER)).await;
                assert_invalid(&r, &["tz", "expected UTC or an offset"]);
                assert!(!r.text.contains("char boundary"), "{}", r.text);
            }
        }
        // The same parser still reads real offsets.
        let r = w.get("/v1/switches?tz=%2B09:00", Some(A_VIEWER)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    })
    .await;
}

#[tokio::test]
async fn an_oversized_label_value_is_refused_naming_the_label_and_the_limit() {
    hostile(|w| async move {
        let big = "x".repeat(1025);
        let r = w
            .post(
                "/v1/alerts",
                A_INGEST,
                &alert(&[("alertname", "HighErrorRate"), ("service", &big)]),
            )
            .await;
        assert_invalid(
            &r,
            &[
                "alerts[0].labels[\"service\"]",
                "1025 bytes",
                "1024 bytes",
                "label_value_bytes",
            ],
        );
        assert!(!r.text.contains(&big), "the value is echoed back");
        assert_eq!(w.a_incidents().await, 0, "a refused batch recorded nothing");
    })
    .await;
}

#[tokio::test]
async fn an_oversized_label_name_is_refused_without_echoing_it() {
    hostile(|w| async move {
        let name = "n".repeat(10_000);
        let r = w
            .post(
                "/v1/alerts",
                A_INGEST,
                &alert(&[("alertname", "HighErrorRate"), (&name, "v")]),
            )
            .await;
        assert_invalid(&r, &["label name", "10000 bytes", "label_name_bytes"]);
        assert!(r.text.len() < 1_000, "{} bytes of error", r.text.len());
        assert_eq!(w.a_incidents().await, 0);
    })
    .await;
}

#[tokio::test]
async fn too_many_labels_are_refused() {
    hostile(|w| async move {
        let names: Vec<String> = (0..100).map(|i| format!("l{i}")).collect();
        let mut labels: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        labels.push(("alertname", "HighErrorRate"));
        let r = w.post("/v1/alerts", A_INGEST, &alert(&labels)).await;
        assert_invalid(&r, &["labels_per_alert", "64"]);
    })
    .await;
}

#[tokio::test]
async fn an_oversized_annotation_is_refused_in_the_alertmanager_form_too() {
    hostile(|w| async move {
        let mut body: Value = serde_json::from_slice(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/alerts/alertmanager-webhook.json"
            ))
            .unwrap(),
        )
        .unwrap();
        body["alerts"][0]["annotations"]["description"] = json!("d".repeat(9 * 1024));
        let r = w.post("/v1/alerts/alertmanager", A_INGEST, &body).await;
        assert_invalid(
            &r,
            &["annotations[\"description\"]", "annotation_value_bytes"],
        );

        // Many annotations each under the cap, over the total.
        let mut body = alert(&[("alertname", "HighErrorRate"), ("service", "api")]);
        let many: BTreeMap<String, String> = (0..8)
            .map(|i| (format!("a{i}"), "d".repeat(5 * 1024)))
            .collect();
        body["alerts"][0]["annotations"] = json!(many);
        let r = w.post("/v1/alerts", A_INGEST, &body).await;
        assert_invalid(&r, &["annotations_bytes_per_alert", "32768 bytes"]);
        assert_eq!(w.a_incidents().await, 0);
    })
    .await;
}

#[tokio::test]
async fn dot_and_dot_dot_label_values_never_name_a_target() {
    hostile(|w| async move {
        for (i, value) in [".", ".."].into_iter().enumerate() {
            for label in ["service", "namespace"] {
                let other = format!("svc-{i}");
                let labels: Vec<(&str, &str)> = if label == "service" {
                    vec![("alertname", "HighErrorRate"), ("service", value)]
                } else {
                    vec![
                        ("alertname", "HighErrorRate"),
                        ("service", &other),
                        ("namespace", value),
                    ]
                };
                let r = w.post("/v1/alerts", A_INGEST, &alert(&labels)).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                let outcome = &r.body["decisions"][0]["outcome"];
                assert_eq!(outcome["decision"], "skipped", "{}", r.text);
                let text = outcome.to_string();
                assert!(text.contains("target_unresolved"), "{text}");
                assert!(text.contains("path segment"), "{text}");
            }
        }
        w.engine.wait_idle().await;
        assert!(
            w.kit
                .executor
                .calls()
                .iter()
                .all(|c| c.tenant.as_str() != "a"),
            "an action ran on a '.' or '..' target"
        );
    })
    .await;
}
