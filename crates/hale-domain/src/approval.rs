//! Approval requests on the decision path (seed 003 `ApprovalRecord`, trust
//! rules): risk decides how many distinct people must sign; requests expire;
//! rejection needs a reason.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::convergence::Fingerprint;
use crate::ids::{Actor, ApprovalId, IncidentId, StrategyId};
use crate::resource::ResourceRef;
use crate::risk::RiskLevel;
use crate::tenant::TenantId;
use crate::time::Timestamp;

/// Approval status (seed 003 `ApprovalStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for signatures.
    Pending,
    /// Enough signatures; execution may start.
    Approved,
    /// Someone said no.
    Rejected,
    /// Nobody decided in time.
    Expired,
}

impl ApprovalStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Expired => "expired",
        }
    }
}

impl fmt::Display for ApprovalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApprovalStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(ApprovalStatus::Pending),
            "approved" => Ok(ApprovalStatus::Approved),
            "rejected" => Ok(ApprovalStatus::Rejected),
            "expired" => Ok(ApprovalStatus::Expired),
            other => Err(format!(
                "unknown approval status {other:?}; expected pending, approved, rejected or expired"
            )),
        }
    }
}

/// How many signatures each risk level needs, and how long a request lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignaturePolicy {
    /// Signatures for LOW risk.
    pub low: u32,
    /// Signatures for MEDIUM risk.
    pub medium: u32,
    /// Signatures for HIGH risk.
    pub high: u32,
    /// Signatures for CRITICAL risk.
    pub critical: u32,
    /// How long a request waits before it expires.
    #[serde(with = "crate::time::duration")]
    pub expires_after: Duration,
}

impl Default for SignaturePolicy {
    fn default() -> Self {
        SignaturePolicy {
            low: 1,
            medium: 1,
            high: 2,
            critical: 3,
            expires_after: Duration::from_secs(3600),
        }
    }
}

impl SignaturePolicy {
    /// Signatures required for a risk level (at least 1).
    pub fn required(&self, risk: RiskLevel) -> u32 {
        match risk {
            RiskLevel::Low => self.low,
            RiskLevel::Medium => self.medium,
            RiskLevel::High => self.high,
            RiskLevel::Critical => self.critical,
        }
        .max(1)
    }
}

/// One signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Who signed (authenticated identity).
    pub identity: Actor,
    /// When.
    pub signed_at: Timestamp,
    /// Optional comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// What an action could touch (seed 003 `blast_radius`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlastRadius {
    /// Namespaces affected.
    pub namespaces: Vec<String>,
    /// Resources affected.
    pub resources: Vec<String>,
    /// Pods expected to restart or move, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_pods: Option<u32>,
}

/// The outcome of a pre-approval dry run (seed 003 `dry_run_checks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRunCheck {
    /// What was checked (the action kind).
    pub name: String,
    /// Whether the server accepted it.
    pub passed: bool,
    /// Details.
    pub message: String,
}

/// An approval request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// Id.
    pub id: ApprovalId,
    /// Owning tenant.
    pub tenant: TenantId,
    /// The strategy to run when approved.
    pub strategy_id: StrategyId,
    /// The target.
    pub resource: ResourceRef,
    /// Short action summary (`rollout_restart prod:deployment/checkout`).
    pub action: String,
    /// Why it is proposed.
    pub description: String,
    /// Status.
    pub status: ApprovalStatus,
    /// Risk.
    pub risk_level: RiskLevel,
    /// Signatures needed.
    pub required_signatures: u32,
    /// Signatures so far, by distinct identities.
    pub signatures: Vec<Signature>,
    /// What it could touch.
    pub blast_radius: BlastRadius,
    /// Dry-run results.
    pub dry_run_checks: Vec<DryRunCheck>,
    /// Who proposed it.
    pub requested_by: Actor,
    /// Why it was rejected.
    pub rejection_reason: Option<String>,
    /// Who rejected it.
    pub rejected_by: Option<Actor>,
    /// Free-form metadata.
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// Alert fingerprint (storm convergence).
    pub fingerprint: Option<Fingerprint>,
    /// Alert deliveries converged into this request.
    pub hit_count: u64,
    /// The latest delivery.
    pub last_seen_at: Timestamp,
    /// Incident link (seed 003 Phase 26).
    pub incident_id: Option<IncidentId>,
    /// Optimistic-concurrency revision; stores bump it on every update.
    #[serde(default)]
    pub revision: u64,
    /// Created.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Expiry.
    pub expires_at: Timestamp,
    /// When it left PENDING.
    pub resolved_at: Option<Timestamp>,
}

/// A decision on an approval was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    /// Only pending requests can be decided.
    #[error("approval is {0}, not pending")]
    NotPending(ApprovalStatus),
    /// Expired before the decision arrived.
    #[error("approval expired at {0}")]
    Expired(Timestamp),
    /// The same identity cannot sign twice.
    #[error("{0} has already signed")]
    AlreadySigned(Actor),
    /// Rejection needs a reason.
    #[error("a rejection needs a non-empty reason")]
    ReasonRequired,
}

/// What a signature achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignOutcome {
    /// More signatures needed.
    NeedsMore {
        /// Still missing.
        remaining: u32,
    },
    /// This signature completed the approval.
    Approved,
}

impl ApprovalRequest {
    /// Signatures collected so far.
    pub fn current_signatures(&self) -> u32 {
        u32::try_from(self.signatures.len()).unwrap_or(u32::MAX)
    }

    /// Whether it is pending and past its expiry.
    pub fn is_due_to_expire(&self, now: Timestamp) -> bool {
        self.status == ApprovalStatus::Pending && now >= self.expires_at
    }

    fn check_pending(&mut self, now: Timestamp) -> Result<(), ApprovalError> {
        if self.status != ApprovalStatus::Pending {
            return Err(ApprovalError::NotPending(self.status));
        }
        if now >= self.expires_at {
            self.expire(now);
            return Err(ApprovalError::Expired(self.expires_at));
        }
        Ok(())
    }

    /// Adds a signature by a distinct identity.
    pub fn sign(
        &mut self,
        identity: &Actor,
        comment: Option<String>,
        now: Timestamp,
    ) -> Result<SignOutcome, ApprovalError> {
        self.check_pending(now)?;
        if self.signatures.iter().any(|s| &s.identity == identity) {
            return Err(ApprovalError::AlreadySigned(identity.clone()));
        }
        self.signatures.push(Signature {
            identity: identity.clone(),
            signed_at: now,
            comment,
        });
        self.updated_at = now;
        let have = self.current_signatures();
        if have >= self.required_signatures {
            self.status = ApprovalStatus::Approved;
            self.resolved_at = Some(now);
            Ok(SignOutcome::Approved)
        } else {
            Ok(SignOutcome::NeedsMore {
                remaining: self.required_signatures - have,
            })
        }
    }

    /// Rejects with a reason.
    pub fn reject(
        &mut self,
        identity: &Actor,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), ApprovalError> {
        if reason.trim().is_empty() {
            return Err(ApprovalError::ReasonRequired);
        }
        self.check_pending(now)?;
        self.status = ApprovalStatus::Rejected;
        self.rejection_reason = Some(reason.trim().to_owned());
        self.rejected_by = Some(identity.clone());
        self.updated_at = now;
        self.resolved_at = Some(now);
        Ok(())
    }

    /// Marks a pending request expired. Returns whether it changed.
    pub fn expire(&mut self, now: Timestamp) -> bool {
        if self.status != ApprovalStatus::Pending {
            return false;
        }
        self.status = ApprovalStatus::Expired;
        self.updated_at = now;
        self.resolved_at = Some(now);
        true
    }

    /// Another delivery of the same alert converged into this request.
    pub fn record_hit(&mut self, now: Timestamp) {
        self.hit_count = self.hit_count.saturating_add(1);
        self.last_seen_at = self.last_seen_at.max(now);
        self.updated_at = now;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn request(risk: RiskLevel, policy: &SignaturePolicy) -> ApprovalRequest {
        let now = Timestamp::from_unix_secs(1_000);
        ApprovalRequest {
            id: ApprovalId::new("apr-1"),
            tenant: TenantId::new("t").unwrap(),
            strategy_id: StrategyId::new("restart"),
            resource: ResourceRef::parse("prod:deployment/checkout").unwrap(),
            action: "rollout_restart prod:deployment/checkout".into(),
            description: "HighErrorRate".into(),
            status: ApprovalStatus::Pending,
            risk_level: risk,
            required_signatures: policy.required(risk),
            signatures: Vec::new(),
            blast_radius: BlastRadius::default(),
            dry_run_checks: Vec::new(),
            requested_by: Actor::new("hale:decision_manager"),
            rejection_reason: None,
            rejected_by: None,
            metadata: BTreeMap::new(),
            fingerprint: None,
            hit_count: 1,
            last_seen_at: now,
            incident_id: None,
            revision: 0,
            created_at: now,
            updated_at: now,
            expires_at: now + policy.expires_after,
            resolved_at: None,
        }
    }

    #[test]
    fn high_risk_needs_two_distinct_signatures() {
        let p = SignaturePolicy::default();
        let mut r = request(RiskLevel::High, &p);
        let t = Timestamp::from_unix_secs(1_010);
        let alice = Actor::new("alice");
        assert_eq!(
            r.sign(&alice, None, t).unwrap(),
            SignOutcome::NeedsMore { remaining: 1 }
        );
        assert_eq!(
            r.sign(&alice, None, t),
            Err(ApprovalError::AlreadySigned(alice.clone()))
        );
        assert_eq!(
            r.sign(&Actor::new("bob"), None, t).unwrap(),
            SignOutcome::Approved
        );
        assert_eq!(r.status, ApprovalStatus::Approved);
        assert_eq!(
            r.sign(&Actor::new("carol"), None, t),
            Err(ApprovalError::NotPending(ApprovalStatus::Approved))
        );
    }

    #[test]
    fn expiry_and_rejection() {
        let p = SignaturePolicy::default();
        let mut r = request(RiskLevel::Medium, &p);
        let late = r.expires_at;
        assert!(matches!(
            r.sign(&Actor::new("a"), None, late),
            Err(ApprovalError::Expired(_))
        ));
        assert_eq!(r.status, ApprovalStatus::Expired);
        let mut r = request(RiskLevel::Medium, &p);
        let t = Timestamp::from_unix_secs(1_001);
        assert_eq!(
            r.reject(&Actor::new("a"), " ", t),
            Err(ApprovalError::ReasonRequired)
        );
        r.reject(&Actor::new("a"), "wrong target", t).unwrap();
        assert_eq!(r.rejection_reason.as_deref(), Some("wrong target"));
        assert!(!r.expire(t));
    }

    #[test]
    fn approval_status_wire_names_are_exact() {
        for (status, name) in [
            (ApprovalStatus::Pending, "pending"),
            (ApprovalStatus::Approved, "approved"),
            (ApprovalStatus::Rejected, "rejected"),
            (ApprovalStatus::Expired, "expired"),
        ] {
            crate::wire::assert_wire_name(status, status.as_str(), name);
            assert_eq!(name.parse::<ApprovalStatus>(), Ok(status));
        }
        assert!("Pending".parse::<ApprovalStatus>().is_err());
    }

    #[test]
    fn each_risk_needs_its_own_count_and_never_zero() {
        let p = SignaturePolicy {
            low: 0,
            medium: 2,
            high: 3,
            critical: 4,
            expires_after: Duration::from_secs(60),
        };
        assert_eq!(p.required(RiskLevel::Low), 1, "at least one signature");
        assert_eq!(p.required(RiskLevel::Medium), 2);
        assert_eq!(p.required(RiskLevel::High), 3);
        assert_eq!(p.required(RiskLevel::Critical), 4);
        let mut r = request(RiskLevel::Critical, &p);
        let t = Timestamp::from_unix_secs(1_001);
        assert_eq!(r.current_signatures(), 0);
        assert_eq!(
            r.sign(&Actor::new("a"), Some("looks right".into()), t),
            Ok(SignOutcome::NeedsMore { remaining: 3 })
        );
        assert_eq!(r.current_signatures(), 1);
        assert_eq!(r.signatures[0].comment.as_deref(), Some("looks right"));
        assert_eq!(
            r.sign(&Actor::new("b"), None, t),
            Ok(SignOutcome::NeedsMore { remaining: 2 })
        );
        assert_eq!(r.current_signatures(), 2);
        assert_eq!(r.resolved_at, None);
    }

    /// Expiry is due exactly at `expires_at`, for pending requests only; a
    /// decision at or after it expires the request instead.
    #[test]
    fn expiry_is_due_at_the_instant_and_only_while_pending() {
        let p = SignaturePolicy::default();
        let r = request(RiskLevel::Low, &p);
        let at = r.expires_at;
        let before = at - Duration::from_secs(1);
        assert!(!r.is_due_to_expire(before));
        assert!(r.is_due_to_expire(at));
        assert!(r.is_due_to_expire(at + Duration::from_secs(1)));
        let mut approved = r.clone();
        approved.sign(&Actor::new("a"), None, before).unwrap();
        assert_eq!(approved.status, ApprovalStatus::Approved);
        assert_eq!(approved.resolved_at, Some(before));
        assert!(!approved.is_due_to_expire(at));
        assert!(!approved.expire(at), "only a pending request expires");
        assert_eq!(approved.status, ApprovalStatus::Approved);

        let mut late = r.clone();
        assert_eq!(
            late.reject(&Actor::new("a"), "no", at),
            Err(ApprovalError::Expired(at))
        );
        assert_eq!(late.status, ApprovalStatus::Expired);
        assert_eq!(late.rejection_reason, None);

        let mut pending = r.clone();
        assert!(pending.expire(at));
        assert_eq!(pending.status, ApprovalStatus::Expired);
        assert_eq!((pending.updated_at, pending.resolved_at), (at, Some(at)));
        assert!(!pending.expire(at), "already expired");

        let mut rejected = r;
        rejected
            .reject(&Actor::new("a"), " wrong ", before)
            .unwrap();
        assert_eq!(rejected.rejected_by, Some(Actor::new("a")));
        assert_eq!(rejected.rejection_reason.as_deref(), Some("wrong"));
        assert_eq!(
            rejected.reject(&Actor::new("b"), "again", before),
            Err(ApprovalError::NotPending(ApprovalStatus::Rejected))
        );
    }

    #[test]
    fn a_hit_counts_the_delivery_and_keeps_the_latest_sighting() {
        let mut r = request(RiskLevel::Low, &SignaturePolicy::default());
        let first = r.last_seen_at;
        let later = first + Duration::from_secs(5);
        r.record_hit(later);
        assert_eq!(
            (r.hit_count, r.last_seen_at, r.updated_at),
            (2, later, later)
        );
        r.record_hit(first);
        assert_eq!(r.hit_count, 3);
        assert_eq!(
            r.last_seen_at, later,
            "an older delivery does not move it back"
        );
    }

    proptest! {
        /// An approval is granted exactly when the required number of
        /// distinct identities signed before expiry.
        #[test]
        fn prop_approval_needs_required_distinct_signatures(
            signers in prop::collection::vec(0u8..5, 0..10),
            risk in prop_oneof![Just(RiskLevel::Low), Just(RiskLevel::Medium), Just(RiskLevel::High), Just(RiskLevel::Critical)]
        ) {
            let p = SignaturePolicy::default();
            let mut r = request(risk, &p);
            let t = Timestamp::from_unix_secs(1_001);
            let mut distinct = std::collections::BTreeSet::new();
            for s in signers {
                let who = Actor::new(format!("user{s}"));
                let before = r.status;
                let res = r.sign(&who, None, t);
                if before == ApprovalStatus::Pending && distinct.insert(s) {
                    prop_assert!(res.is_ok());
                } else {
                    prop_assert!(res.is_err());
                }
                prop_assert_eq!(
                    r.status == ApprovalStatus::Approved,
                    distinct.len() as u32 >= p.required(risk)
                );
            }
        }
    }
}
