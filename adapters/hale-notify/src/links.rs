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
    /// A tenant's notice names its tenant (`?tenant=`): a platform
    /// session shows the tenant picker instead of a page without it, and a
    /// tenant session shows its own tenant either way.
    pub fn for_notice(&self, n: &Notice) -> Option<String> {
        let base = self.public_url.as_ref()?;
        let s = &n.subject;
        let page = if let Some(a) = &s.approval_id {
            format!("approvals/{a}")
        } else if let Some(i) = &s.incident_id {
            format!("incidents/{i}")
        } else {
            format!("operations/{}", s.operation_id.as_ref()?)
        };
        let tenant = n
            .tenant
            .as_ref()
            .map_or_else(String::new, |t| format!("?tenant={t}"));
        Some(format!("{base}/console/{page}{tenant}"))
    }
}

#[cfg(test)]
mod tests {
    use hale_domain::notification::{NoticeKind, NoticeSubject};
    use hale_domain::{OperationId, Severity, TenantId, Timestamp};

    use super::*;

    fn notice(tenant: Option<&str>, operation: Option<&str>) -> Notice {
        Notice {
            id: "n-1".into(),
            tenant: tenant.map(|t| TenantId::new(t).unwrap()),
            kind: NoticeKind::HealingEscalated,
            severity: Severity::P1,
            subject: NoticeSubject {
                operation_id: operation.map(OperationId::new),
                ..NoticeSubject::default()
            },
            summary: "s".into(),
            at: Timestamp::from_unix_secs(0),
        }
    }

    #[test]
    fn a_tenants_link_names_its_tenant_and_a_platform_one_none() {
        let links = Links::new(Some("https://hale.example.com/"));
        assert_eq!(
            links
                .for_notice(&notice(Some("shop"), Some("op-1")))
                .as_deref(),
            Some("https://hale.example.com/console/operations/op-1?tenant=shop")
        );
        assert_eq!(
            links.for_notice(&notice(None, Some("op-1"))).as_deref(),
            Some("https://hale.example.com/console/operations/op-1")
        );
        assert_eq!(links.for_notice(&notice(Some("shop"), None)), None);
        assert_eq!(
            Links::new(None).for_notice(&notice(Some("shop"), Some("op-1"))),
            None
        );
    }
}
