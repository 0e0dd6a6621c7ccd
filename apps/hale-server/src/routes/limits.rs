//! Intake's size caps on one alert (`[limits]`, docs/api.md "Limits").
//!
//! Checked after parsing and before the engine sees anything, so an
//! oversized alert records nothing and its batch answers 422 naming the
//! alert, the label or annotation, its size and the limit.

use hale_domain::alert::Alert;

use crate::config::LimitsSection;
use crate::error::ApiError;

/// How much of an offending name the error quotes: enough to find it, not
/// enough to echo a megabyte back.
const QUOTED_CHARS: usize = 64;

/// `name`, shortened to [`QUOTED_CHARS`] characters with an ellipsis.
fn quoted(name: &str) -> String {
    match name.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{:?}...", &name[..cut]),
        None => format!("{name:?}"),
    }
}

fn over(what: String, size: usize, limit: usize, key: &str) -> ApiError {
    ApiError::Invalid(format!(
        "{what} is {size} bytes; the limit is {limit} bytes ([limits] {key})"
    ))
}

/// The first alert of `alerts` that breaks a cap, as a 422.
pub(crate) fn check_alerts(alerts: &[Alert], limits: &LimitsSection) -> Result<(), ApiError> {
    for (i, alert) in alerts.iter().enumerate() {
        check_alert(alert, limits).map_err(|e| match e {
            ApiError::Invalid(m) => ApiError::Invalid(format!("alerts[{i}].{m}")),
            other => other,
        })?;
    }
    Ok(())
}

fn check_alert(alert: &Alert, limits: &LimitsSection) -> Result<(), ApiError> {
    if alert.labels.len() > limits.labels_per_alert {
        return Err(ApiError::Invalid(format!(
            "labels: {} labels; the limit is {} ([limits] labels_per_alert)",
            alert.labels.len(),
            limits.labels_per_alert
        )));
    }
    for (name, value) in &alert.labels {
        if name.len() > limits.label_name_bytes {
            return Err(over(
                format!("labels: the label name {}", quoted(name)),
                name.len(),
                limits.label_name_bytes,
                "label_name_bytes",
            ));
        }
        if value.len() > limits.label_value_bytes {
            return Err(over(
                format!("labels[{}]: the value", quoted(name)),
                value.len(),
                limits.label_value_bytes,
                "label_value_bytes",
            ));
        }
    }
    let mut total = 0usize;
    for (name, value) in &alert.annotations {
        if value.len() > limits.annotation_value_bytes {
            return Err(over(
                format!("annotations[{}]: the value", quoted(name)),
                value.len(),
                limits.annotation_value_bytes,
                "annotation_value_bytes",
            ));
        }
        total = total.saturating_add(name.len()).saturating_add(value.len());
    }
    if total > limits.annotations_bytes_per_alert {
        return Err(over(
            "annotations: the names and values together".into(),
            total,
            limits.annotations_bytes_per_alert,
            "annotations_bytes_per_alert",
        ));
    }
    if let Some(url) = &alert.generator_url
        && url.len() > limits.annotation_value_bytes
    {
        return Err(over(
            "generatorURL".into(),
            url.len(),
            limits.annotation_value_bytes,
            "annotation_value_bytes",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LimitsSection {
        LimitsSection {
            label_name_bytes: 16,
            label_value_bytes: 20,
            labels_per_alert: 4,
            annotation_value_bytes: 32,
            annotations_bytes_per_alert: 48,
            ..LimitsSection::default()
        }
    }

    fn detail(alerts: &[Alert]) -> String {
        match check_alerts(alerts, &limits()) {
            Err(ApiError::Invalid(m)) => m,
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn each_cap_is_named_with_the_alert_the_label_and_the_limit() {
        let ok = Alert::firing([("alertname", "X")]);
        assert_eq!(check_alerts(std::slice::from_ref(&ok), &limits()), Ok(()));

        let long_value = Alert::firing([("alertname", "x".repeat(21))]);
        assert_eq!(
            detail(&[ok.clone(), long_value]),
            "alerts[1].labels[\"alertname\"]: the value is 21 bytes; the limit is 20 bytes ([limits] label_value_bytes)"
        );
        let long_name = Alert::firing([("n".repeat(200), "v")]);
        let d = detail(&[long_name]);
        assert!(
            d.contains("label_name_bytes") && d.contains("200 bytes"),
            "{d}"
        );
        assert!(d.len() < 200, "the name is quoted shortened: {d}");
        let many = Alert::firing([("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")]);
        assert!(detail(&[many]).contains("labels_per_alert"));

        let mut ann = ok.clone();
        ann.annotations.insert("summary".into(), "s".repeat(33));
        assert!(detail(&[ann]).contains("annotations[\"summary\"]"));
        let mut total = ok.clone();
        total.annotations.insert("a".into(), "s".repeat(30));
        total.annotations.insert("b".into(), "s".repeat(30));
        assert!(detail(&[total]).contains("annotations_bytes_per_alert"));
        let mut url = ok;
        url.generator_url = Some("u".repeat(33));
        assert!(detail(&[url]).contains("generatorURL"));
    }

    #[test]
    fn multi_byte_names_are_shortened_on_character_boundaries() {
        let name = "\u{e9}".repeat(100);
        assert!(quoted(&name).ends_with("..."));
        assert_eq!(quoted("abc"), "\"abc\"");
    }
}
