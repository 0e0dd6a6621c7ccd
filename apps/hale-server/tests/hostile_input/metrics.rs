//! `/metrics` behind a platform token, without backend error text.

use super::world::*;

#[tokio::test]
async fn metrics_need_a_platform_token_when_configured() {
    hostile(|w| async move {
        assert_eq!(
            w.get("/metrics", None).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            w.get("/metrics", Some("wrong")).await.status,
            StatusCode::UNAUTHORIZED
        );
        let r = w.get("/metrics", Some(A_VIEWER)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert!(r.text.contains("platform token"), "{}", r.text);
        let r = w.get("/metrics", Some(P_VIEWER)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(r.text.contains("hale_alerts_received_total"));
    })
    .await;
}

#[tokio::test]
async fn metrics_never_show_backend_error_text() {
    hostile(|w| async move {
        w.kit.store.set_unavailable(true);
        w.kit.locks.set_unavailable(true);
        let r = w.get("/metrics", Some(P_VIEWER)).await;
        w.kit.store.set_unavailable(false);
        w.kit.locks.set_unavailable(false);
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for leak in ["memory store", "unavailable", "MemoryStore"] {
            assert!(!r.text.contains(leak), "{leak:?} in\n{}", r.text);
        }
    })
    .await;
}
