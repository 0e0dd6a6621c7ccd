//! Counting what Hale recorded, through its own read API (`/v1/...` with a
//! platform token and `?tenant=`), and reading its Prometheus metrics.

use std::collections::BTreeMap;

use serde_json::Value;

/// A read failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Hale could not be reached or answered with an error.
    #[error("GET {url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// A client for one Hale server and tenant.
#[derive(Debug, Clone)]
pub struct HaleApi {
    client: reqwest::Client,
    base: String,
    token: String,
    tenant: String,
}

/// Counts of a paged list, by one string field of its items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Items in total.
    pub total: u64,
    /// Items per value of the field.
    pub by: BTreeMap<String, u64>,
}

impl Tally {
    /// The count for one value.
    pub fn get(&self, key: &str) -> u64 {
        self.by.get(key).copied().unwrap_or(0)
    }
}

impl HaleApi {
    /// `base` is `http://host:port`; `token` must be able to read `tenant`.
    pub fn new(client: reqwest::Client, base: &str, token: &str, tenant: &str) -> Self {
        HaleApi {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            tenant: tenant.to_owned(),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn get(&self, path_and_query: &str) -> Result<Value, ApiError> {
        let url = format!("{}{path_and_query}", self.base);
        let err = |message: String| ApiError::Http {
            url: url.clone(),
            message,
        };
        let res = self
            .client
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        let status = res.status();
        let body: Value = res.json().await.map_err(|e| err(e.to_string()))?;
        if !status.is_success() {
            return Err(err(format!("{status}: {body}")));
        }
        Ok(body)
    }

    /// Every item of a list endpoint (`/v1/operations`, `/v1/audit`, ...)
    /// with extra `filters` (`state=RUNNING&...`), paging 1000 at a time.
    pub async fn list_all(&self, endpoint: &str, filters: &str) -> Result<Vec<Value>, ApiError> {
        let mut items = Vec::new();
        let mut offset = 0u64;
        loop {
            let mut q = format!(
                "{endpoint}?tenant={}&limit=1000&offset={offset}",
                self.tenant
            );
            if !filters.is_empty() {
                q.push('&');
                q.push_str(filters);
            }
            let page = self.get(&q).await?;
            if let Some(a) = page["items"].as_array() {
                items.extend(a.iter().cloned());
            }
            match page["next_offset"].as_u64() {
                Some(next) if next > offset => offset = next,
                _ => return Ok(items),
            }
        }
    }

    /// Items of a list endpoint counted by the string `field`.
    pub async fn tally(
        &self,
        endpoint: &str,
        filters: &str,
        field: &str,
    ) -> Result<Tally, ApiError> {
        let items = self.list_all(endpoint, filters).await?;
        Ok(tally(&items, field))
    }

    /// GET `/metrics`, as `name{labels}` -> value.
    pub async fn metrics(&self) -> Result<BTreeMap<String, f64>, ApiError> {
        let url = format!("{}/metrics", self.base);
        let text = async {
            self.client
                .get(&url)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await
        }
        .await
        .map_err(|e| ApiError::Http {
            url: url.clone(),
            message: e.to_string(),
        })?;
        Ok(parse_metrics(&text))
    }
}

/// Counts `items` by the string `field` (missing: `""`).
pub fn tally(items: &[Value], field: &str) -> Tally {
    let mut t = Tally::default();
    for it in items {
        t.total += 1;
        let key = it[field].as_str().unwrap_or_default().to_owned();
        *t.by.entry(key).or_default() += 1;
    }
    t
}

/// Parses Prometheus text format samples (comments skipped).
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The samples of one family, keyed by their label text
/// (`hale_decisions_total{decision="resolved"}` -> `decision="resolved"`).
pub fn family(metrics: &BTreeMap<String, f64>, name: &str) -> BTreeMap<String, f64> {
    metrics
        .iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix(name)?;
            let labels = rest.strip_prefix('{')?.strip_suffix('}')?;
            Some((labels.to_owned(), *v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn metrics_parse_and_families_split_by_labels() {
        let text = "# HELP x y\n# TYPE hale_decisions_total counter\nhale_decisions_total{decision=\"resolved\"} 12\nhale_decisions_total{decision=\"skipped\"} 3\nhale_alerts_received_total 15\n";
        let m = parse_metrics(text);
        assert_eq!(m["hale_alerts_received_total"], 15.0);
        let f = family(&m, "hale_decisions_total");
        assert_eq!(f.len(), 2);
        assert_eq!(f["decision=\"skipped\""], 3.0);
    }

    #[test]
    fn tallies_count_by_field() {
        let items = vec![
            json!({"state": "COMPLETED"}),
            json!({"state": "COMPLETED"}),
            json!({"state": "FAILED"}),
            json!({}),
        ];
        let t = tally(&items, "state");
        assert_eq!(t.total, 4);
        assert_eq!(t.get("COMPLETED"), 2);
        assert_eq!(t.get(""), 1);
        assert_eq!(t.get("RUNNING"), 0);
    }
}
