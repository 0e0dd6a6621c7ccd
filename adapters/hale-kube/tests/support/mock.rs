//! A scripted Kubernetes API on kube-rs's request/response mock
//! (`tower_test::mock::pair` behind `kube::Client::new`).
//!
//! Each [`Expect`] names the exact method, path, query pairs, content type
//! and JSON body of one request, and the response to send. The script runs
//! in a task; [`MockApi::finish`] fails the test if a request differed, one
//! was missing, or an extra one arrived.

use std::collections::BTreeSet;
use std::pin::pin;

use http::{Method, Request, Response};
use kube::client::Body;
use serde_json::Value;
use tokio::task::JoinHandle;
use tower_test::mock;

#[derive(Debug, Clone, Copy)]
enum Reply {
    Json(u16),
    /// Never answer (for request timeouts).
    Hang,
    /// Fail at the transport level (connection refused and the like).
    TransportError,
}

/// One expected request and its answer.
#[derive(Debug, Clone)]
pub(crate) struct Expect {
    method: Method,
    path: String,
    query: Option<BTreeSet<(String, String)>>,
    content_type: Option<String>,
    body: Option<Value>,
    reply: Reply,
    reply_body: Value,
}

impl Expect {
    fn new(method: Method, path: &str) -> Self {
        Expect {
            method,
            path: path.to_owned(),
            query: None,
            content_type: None,
            body: None,
            reply: Reply::Json(200),
            reply_body: Value::Null,
        }
    }

    pub(crate) fn get(path: &str) -> Self {
        Expect::new(Method::GET, path)
    }

    pub(crate) fn patch(path: &str) -> Self {
        Expect::new(Method::PATCH, path)
    }

    pub(crate) fn post(path: &str) -> Self {
        Expect::new(Method::POST, path)
    }

    pub(crate) fn delete(path: &str) -> Self {
        Expect::new(Method::DELETE, path)
    }

    /// The exact set of query pairs (decoded); unchecked unless given.
    pub(crate) fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        self.query = Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        self
    }

    pub(crate) fn content_type(mut self, ct: &str) -> Self {
        self.content_type = Some(ct.to_owned());
        self
    }

    /// The exact JSON body.
    pub(crate) fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub(crate) fn reply(mut self, status: u16, body: Value) -> Self {
        self.reply = Reply::Json(status);
        self.reply_body = body;
        self
    }

    pub(crate) fn hang(mut self) -> Self {
        self.reply = Reply::Hang;
        self
    }

    pub(crate) fn transport_error(mut self) -> Self {
        self.reply = Reply::TransportError;
        self
    }
}

/// The running script.
pub(crate) struct MockApi {
    task: JoinHandle<()>,
}

impl MockApi {
    /// A client whose requests are checked against `script`, in order.
    pub(crate) fn start(script: Vec<Expect>) -> (kube::Client, MockApi) {
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        // The client's default namespace is deliberately one no test
        // allows: any use of it would show up as a wrong path.
        let client = kube::Client::new(service, "default");
        let task = tokio::spawn(async move {
            let mut handle = pin!(handle);
            let mut held = Vec::new();
            for (i, want) in script.into_iter().enumerate() {
                let Some((req, send)) = handle.next_request().await else {
                    panic!(
                        "request #{i} never came: expected {} {}",
                        want.method, want.path
                    );
                };
                check(i, &want, req).await;
                match want.reply {
                    Reply::Json(status) => send.send_response(
                        Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(Body::from(serde_json::to_vec(&want.reply_body).unwrap()))
                            .unwrap(),
                    ),
                    Reply::Hang => held.push(send),
                    Reply::TransportError => send.send_error(std::io::Error::new(
                        std::io::ErrorKind::ConnectionRefused,
                        "connection refused",
                    )),
                }
            }
            if let Some((req, _)) = handle.next_request().await {
                panic!("unexpected extra request {} {}", req.method(), req.uri());
            }
            drop(held);
        });
        (client, MockApi { task })
    }

    /// Waits for the script to end (every client clone must be dropped)
    /// and fails on any mismatch.
    pub(crate) async fn finish(self) {
        if let Err(e) = self.task.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

async fn check(i: usize, want: &Expect, req: Request<Body>) {
    let at = format!("request #{i} ({} {})", want.method, want.path);
    assert_eq!(req.method(), want.method, "{at}: method");
    assert_eq!(req.uri().path(), want.path, "{at}: path");
    let query: BTreeSet<(String, String)> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    if let Some(expected) = &want.query {
        assert_eq!(&query, expected, "{at}: query");
    }
    let ct = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    if let Some(expected) = &want.content_type {
        assert_eq!(ct.as_deref(), Some(expected.as_str()), "{at}: content type");
    }
    let bytes = req.into_body().collect_bytes().await.unwrap();
    match &want.body {
        Some(expected) => {
            let got: Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{at}: body is not JSON ({e}): {bytes:?}"));
            assert_eq!(&got, expected, "{at}: body");
        }
        None if want.method == Method::GET => {
            assert!(bytes.is_empty(), "{at}: a GET carried a body");
        }
        None => {}
    }
}
