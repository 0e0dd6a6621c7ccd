//! The answer cache (issue 16 item 3: "answers cached at most 30 s"),
//! against an in-process HTTP stand-in for Alertmanager that counts the
//! requests it serves. Time is tokio's: paused and advanced between
//! questions, running while a question is on the wire (a paused clock
//! would auto-advance into the client's timeout while the socket waits).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hale_alertmanager::{AlertmanagerSettings, AlertmanagerSilences, MAX_CACHE_TTL};
use hale_domain::TenantId;
use hale_engine::ports::{SilenceAnswer, SilenceQuery, SilenceSource};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An Alertmanager stand-in: every `GET /api/v2/alerts` answers that the
/// alert `HighErrorRate` on `prod` is silenced by `s-1`. Returns its URL
/// and the count of requests served.
async fn alertmanager() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request);
                assert!(head.starts_with("GET /api/v2/alerts?"), "{head}");
                count.fetch_add(1, Ordering::SeqCst);
                let body = serde_json::json!([{
                    "labels": {"alertname": "HighErrorRate", "namespace": "prod"},
                    "status": {"state": "suppressed", "silencedBy": ["s-1"], "inhibitedBy": []}
                }])
                .to_string();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, served)
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("alertname".to_owned(), "HighErrorRate".to_owned()),
        ("namespace".to_owned(), "prod".to_owned()),
    ])
}

/// Asks once, with the clock running, and checks the answer.
async fn ask(source: &AlertmanagerSilences, url: &str) {
    tokio::time::resume();
    let tenant = TenantId::new("t").unwrap();
    let labels = labels();
    let q = SilenceQuery {
        tenant: &tenant,
        alertmanager: url,
        labels: &labels,
    };
    let answer = source.silenced(&q).await.unwrap();
    assert_eq!(answer, SilenceAnswer::Silenced(vec!["s-1".to_owned()]));
    tokio::time::pause();
}

fn source(cache_ttl: Duration) -> AlertmanagerSilences {
    AlertmanagerSilences::new(AlertmanagerSettings {
        cache_ttl,
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_second_question_within_the_ttl_is_answered_from_the_cache_and_after_it_asks_again() {
    let (url, served) = alertmanager().await;
    let s = source(MAX_CACHE_TTL);
    ask(&s, &url).await;
    assert_eq!(served.load(Ordering::SeqCst), 1);
    // 29 s later: the cached answer, no request.
    tokio::time::advance(Duration::from_secs(29)).await;
    ask(&s, &url).await;
    assert_eq!(served.load(Ordering::SeqCst), 1, "served from the cache");
    // Past 30 s since the answer: Alertmanager is asked again.
    tokio::time::advance(Duration::from_secs(2)).await;
    ask(&s, &url).await;
    assert_eq!(
        served.load(Ordering::SeqCst),
        2,
        "asked again after the TTL"
    );
    // And that answer is cached anew.
    ask(&s, &url).await;
    assert_eq!(served.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_ttl_configured_above_thirty_seconds_still_expires_at_thirty() {
    let (url, served) = alertmanager().await;
    let s = source(Duration::from_secs(300));
    ask(&s, &url).await;
    tokio::time::advance(Duration::from_secs(31)).await;
    ask(&s, &url).await;
    assert_eq!(
        served.load(Ordering::SeqCst),
        2,
        "a 300 s setting must not keep an answer past 30 s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_shorter_ttl_is_kept() {
    let (url, served) = alertmanager().await;
    let s = source(Duration::from_secs(5));
    ask(&s, &url).await;
    tokio::time::advance(Duration::from_secs(4)).await;
    ask(&s, &url).await;
    assert_eq!(served.load(Ordering::SeqCst), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    ask(&s, &url).await;
    assert_eq!(served.load(Ordering::SeqCst), 2);
}
