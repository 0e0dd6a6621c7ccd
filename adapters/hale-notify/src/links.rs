//! Links to the console page a person opens to act on a notice.

use hale_domain::notification::Notice;

/// Builds console links from the server's public URL (none without one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    public_url: Option<String>,
}

impl Links {
    /// Links under `public_url` (`https://hale.example.com`), or none.
    pub fn new(public_url: Option<&str>) -> Links {
        Links {
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
        }
    }

    /// The page for a notice: its approval, else its incident, else its
    /// operation; `None` without a public URL or a subject with a page.
    pub fn for_notice(&self, n: &Notice) -> Option<String> {
        let base = self.public_url.as_ref()?;
        let s = &n.subject;
        if let Some(a) = &s.approval_id {
            return Some(format!("{base}/console/approvals/{a}"));
        }
        if let Some(i) = &s.incident_id {
            return Some(format!("{base}/console/incidents/{i}"));
        }
        s.operation_id
            .as_ref()
            .map(|o| format!("{base}/console/operations/{o}"))
    }
}
