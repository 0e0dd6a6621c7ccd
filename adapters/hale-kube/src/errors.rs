//! Mapping kube-rs errors to failure classes, at the seam.
//!
//! | what | class |
//! | --- | --- |
//! | 401, 403 | `fatal` (latches the breaker PERMANENT_OPEN) |
//! | 404 | `target_gone` (no retry) |
//! | 409 | `conflict` (retry soon) |
//! | 429 from an eviction | `budget_blocked` (a PodDisruptionBudget refused; back off) |
//! | 429 elsewhere, 408, 5xx | `transient` |
//! | 400, 422, other 4xx | `invalid_action` |
//! | connection errors, timeouts, unreadable responses | `transient` |
//! | credentials or TLS that cannot be loaded | `fatal` |

use std::time::Duration;

use hale_domain::failure::FailureClass;
use hale_engine::ports::{ExecError, ProbeError};

/// Which call failed, for messages and for the 429 rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// A POST to a pod's eviction subresource.
    Eviction,
    /// Any other call.
    Other,
}

/// The class of an HTTP status code from the API server.
pub(crate) fn classify_status(code: u16, call: CallKind) -> FailureClass {
    match code {
        401 | 403 => FailureClass::Fatal,
        404 => FailureClass::TargetGone,
        409 => FailureClass::Conflict,
        429 if call == CallKind::Eviction => FailureClass::BudgetBlocked,
        408 | 429 => FailureClass::Transient,
        400..=499 => FailureClass::InvalidAction,
        // `code` 0 means the body carried no code (a proxy's answer parsed
        // as a Status); treat unknown answers like server errors.
        _ => FailureClass::Transient,
    }
}

/// The class of any kube-rs error.
pub(crate) fn classify(err: &kube::Error, call: CallKind) -> FailureClass {
    match err {
        kube::Error::Api(status) => classify_status(status.code, call),
        // The request could not be built: our bug or bad input, never the
        // cluster's state.
        kube::Error::BuildRequest(_) | kube::Error::HttpError(_) => FailureClass::InvalidAction,
        // Credentials, TLS and configuration problems need a human.
        kube::Error::Auth(_)
        | kube::Error::InferConfig(_)
        | kube::Error::InferKubeconfig(_)
        | kube::Error::RustlsTls(_)
        | kube::Error::TlsRequired
        | kube::Error::ProxyProtocolUnsupported { .. }
        | kube::Error::ProxyProtocolDisabled { .. } => FailureClass::Fatal,
        // Connection errors, timeouts from the client stack, and responses
        // that could not be read.
        _ => FailureClass::Transient,
    }
}

/// The built-in secret patterns, compiled once.
static REDACTOR: std::sync::LazyLock<hale_redact::Redactor> =
    std::sync::LazyLock::new(hale_redact::Redactor::default);

/// Every string in `v` with secrets masked. An API server's refusal can
/// quote the rejected value (`spec.template.spec.containers[0].env[0].value:
/// Invalid value: "..."`), and this error is recorded in the audit log.
fn redact_strings(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => {
            if let std::borrow::Cow::Owned(masked) = REDACTOR.redact(s) {
                *s = masked;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_strings),
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_strings),
        _ => {}
    }
}

/// Converts a kube error into the executor port's error.
pub(crate) fn exec_error(what: &str, err: kube::Error, call: CallKind) -> ExecError {
    let class = classify(&err, call);
    let response = match &err {
        kube::Error::Api(status) => serde_json::to_value(status.as_ref()).ok().map(|mut v| {
            redact_strings(&mut v);
            v
        }),
        _ => None,
    };
    let message = match (&err, class) {
        (kube::Error::Api(s), FailureClass::BudgetBlocked) => format!(
            "{what}: refused by a PodDisruptionBudget (HTTP 429): {}",
            s.message
        ),
        (kube::Error::Api(s), _) => format!("{what}: HTTP {} {}: {}", s.code, s.reason, s.message),
        _ => format!("{what}: {err}"),
    };
    let target_said = match &err {
        kube::Error::Api(s) => Some(REDACTOR.redact(&s.message).into_owned()),
        _ => None,
    };
    ExecError {
        class,
        message: REDACTOR.redact(&message).into_owned(),
        response,
        target_said,
    }
}

/// Converts a kube error into the probe port's error.
pub(crate) fn probe_error(what: &str, err: kube::Error) -> ProbeError {
    let e = exec_error(what, err, CallKind::Other);
    ProbeError {
        class: e.class,
        message: e.message,
    }
}

/// The error for a call that did not answer within the request timeout.
pub(crate) fn timed_out(what: &str, after: Duration) -> ExecError {
    ExecError::new(
        FailureClass::Transient,
        format!("{what}: the Kubernetes API did not answer within {after:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_secrets_in_api_refusals_are_masked() {
        let mut v = serde_json::json!({
            "message": "Deployment.apps \"x\" is invalid: env[0].value: Invalid value: \"DB_PASSWORD=hunter2\"",
            "details": {"causes": [{"message": "token: abc123def456"}]},
            "code": 422
        });
        redact_strings(&mut v);
        let text = v.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("abc123def456"),
            "{text}"
        );
        assert_eq!(v["code"], 422);
    }

    #[test]
    fn status_codes_map_to_the_documented_classes() {
        use CallKind::*;
        let cases = [
            (401, Other, FailureClass::Fatal),
            (403, Eviction, FailureClass::Fatal),
            (404, Other, FailureClass::TargetGone),
            (409, Other, FailureClass::Conflict),
            (429, Eviction, FailureClass::BudgetBlocked),
            (429, Other, FailureClass::Transient),
            (408, Other, FailureClass::Transient),
            (400, Other, FailureClass::InvalidAction),
            (422, Other, FailureClass::InvalidAction),
            (500, Other, FailureClass::Transient),
            (503, Eviction, FailureClass::Transient),
            (0, Other, FailureClass::Transient),
        ];
        for (code, call, class) in cases {
            assert_eq!(classify_status(code, call), class, "{code} {call:?}");
        }
    }
}
