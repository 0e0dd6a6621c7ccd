//! Anti-pattern memory (seed 003, Phase 25): once a fix failed for a set of
//! symptoms, the engine does not try that fix on those symptoms again
//! automatically. The memory lives in knowledge entries (`symptoms_hash`);
//! archiving the entry lifts the block.
//!
//! A second kind of memory is the ineffective chain (issue 16): a strategy
//! that completed several times on one target without fixing it
//! ([`crate::effectiveness`]). Its entry is keyed by the target alone
//! ([`SymptomsHash::of_target`]) and blocks the pair whatever alert asks
//! (guard `ineffective_chain`); archiving it lifts that block too.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::alert::Alert;
use crate::ids::{KnowledgeId, StrategyId};
use crate::resource::ResourceRef;
use crate::time::Timestamp;

/// A 16-hex-character hash of a symptom pattern (seed 003: SHA-256 prefix).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SymptomsHash(String);

impl SymptomsHash {
    /// Wraps a stored hash.
    pub fn from_hex(hex: impl Into<String>) -> Self {
        SymptomsHash(hex.into())
    }

    /// The hex string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The symptoms of an alert on a resource: alert name, metric, severity
    /// and the resource itself.
    pub fn of(alert: &Alert, resource: &ResourceRef) -> SymptomsHash {
        let text = format!(
            "{}|{}|{}|{}",
            alert.alertname().unwrap_or_default(),
            alert.label("metric").unwrap_or_default(),
            alert.label("severity").unwrap_or_default(),
            resource.key()
        );
        let digest = Sha256::digest(text.as_bytes());
        SymptomsHash(hex::encode(&digest[..8]))
    }

    /// The key of a target alone (`target|<resource>`), under which an
    /// ineffective chain is remembered for every alert on it.
    pub fn of_target(resource: &ResourceRef) -> SymptomsHash {
        let text = format!("target|{}", resource.key());
        let digest = Sha256::digest(text.as_bytes());
        SymptomsHash(hex::encode(&digest[..8]))
    }
}

/// What a remembered failure remembers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryCause {
    /// The fix ran and its verification failed (keyed by the symptoms).
    #[default]
    VerificationFailed,
    /// The fix completed but was ineffective too often on the target
    /// (keyed by [`SymptomsHash::of_target`]).
    IneffectiveChain,
}

impl fmt::Display for SymptomsHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SymptomsHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SymptomsHash({})", self.0)
    }
}

/// A fix that failed for a symptom pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RememberedFailure {
    /// The symptoms.
    pub symptoms_hash: SymptomsHash,
    /// The strategy (fix) that failed.
    pub strategy_id: StrategyId,
    /// The knowledge entry that remembers it.
    pub knowledge_id: KnowledgeId,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// What it remembers.
    #[serde(default)]
    pub cause: MemoryCause,
}

/// The rule: the remembered failure that blocks `strategy` for `symptoms`,
/// if any.
pub fn blocking_failure<'a>(
    symptoms: &SymptomsHash,
    strategy: &StrategyId,
    remembered: &'a [RememberedFailure],
) -> Option<&'a RememberedFailure> {
    remembered.iter().find(|r| {
        r.cause == MemoryCause::VerificationFailed
            && &r.symptoms_hash == symptoms
            && &r.strategy_id == strategy
    })
}

/// The rule for chains: the remembered ineffective chain that blocks
/// `strategy` on the target the memories were gathered for, if any.
pub fn blocking_chain<'a>(
    strategy: &StrategyId,
    remembered: &'a [RememberedFailure],
) -> Option<&'a RememberedFailure> {
    remembered
        .iter()
        .find(|r| r.cause == MemoryCause::IneffectiveChain && &r.strategy_id == strategy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn remembered(hash: &SymptomsHash, s: &str) -> RememberedFailure {
        RememberedFailure {
            symptoms_hash: hash.clone(),
            strategy_id: StrategyId::new(s),
            knowledge_id: KnowledgeId::new("kn-1"),
            recorded_at: Timestamp::UNIX_EPOCH,
            cause: MemoryCause::VerificationFailed,
        }
    }

    #[test]
    fn chains_and_symptoms_are_separate_memories() {
        let r = ResourceRef::parse("prod:deployment/a").unwrap();
        let target = SymptomsHash::of_target(&r);
        assert_ne!(target, SymptomsHash::of(&Alert::firing([("a", "b")]), &r));
        assert_ne!(
            target,
            SymptomsHash::of_target(&ResourceRef::parse("prod:deployment/b").unwrap())
        );
        let mut chain = remembered(&target, "restart");
        chain.cause = MemoryCause::IneffectiveChain;
        let mem = [chain.clone(), remembered(&target, "scale")];
        let restart = StrategyId::new("restart");
        assert_eq!(blocking_chain(&restart, &mem), Some(&chain));
        assert_eq!(blocking_chain(&StrategyId::new("scale"), &mem), None);
        // A chain never answers for the symptoms rule, even on its own key.
        assert_eq!(blocking_failure(&target, &restart, &mem[..1]), None);
    }

    #[test]
    fn hash_is_16_hex_and_resource_specific() {
        let a = Alert::firing([("alertname", "HighErrorRate"), ("severity", "critical")]);
        let r1 = ResourceRef::parse("prod:deployment/a").unwrap();
        let r2 = ResourceRef::parse("prod:deployment/b").unwrap();
        let h = SymptomsHash::of(&a, &r1);
        assert_eq!(h.as_str().len(), 16);
        assert_ne!(h, SymptomsHash::of(&a, &r2));
    }

    /// The hash is SHA-256 of `alertname|metric|severity|resource`, first 8
    /// bytes in hex (checked against Python's hashlib): knowledge entries
    /// store it, so it must never drift.
    #[test]
    fn hash_is_the_stored_sha256_prefix() {
        let r = ResourceRef::parse("prod:deployment/a").unwrap();
        let a = Alert::firing([
            ("alertname", "HighErrorRate"),
            ("metric", "error_rate"),
            ("severity", "critical"),
            ("service", "ignored"),
        ]);
        let h = SymptomsHash::of(&a, &r);
        assert_eq!(h.as_str(), "3ef7b10ec273c71c");
        assert_eq!(h.to_string(), "3ef7b10ec273c71c");
        assert_eq!(format!("{h:?}"), "SymptomsHash(3ef7b10ec273c71c)");
        assert_eq!(SymptomsHash::from_hex("3ef7b10ec273c71c"), h);
        let bare = SymptomsHash::of(&Alert::firing([("team", "x")]), &r);
        assert_eq!(bare.as_str(), "22f02daa692e1933");
    }

    #[test]
    fn the_first_matching_memory_is_returned() {
        let h = SymptomsHash::from_hex("aa");
        let mut first = remembered(&h, "restart");
        first.knowledge_id = KnowledgeId::new("kn-first");
        let mem = vec![
            remembered(&SymptomsHash::from_hex("bb"), "restart"),
            remembered(&h, "scale"),
            first,
            remembered(&h, "restart"),
        ];
        let hit = blocking_failure(&h, &StrategyId::new("restart"), &mem).unwrap();
        assert_eq!(hit.knowledge_id, KnowledgeId::new("kn-first"));
        assert!(blocking_failure(&h, &StrategyId::new("drain"), &mem).is_none());
        assert!(blocking_failure(&h, &StrategyId::new("restart"), &[]).is_none());
    }

    proptest! {
        /// A remembered failed fix blocks exactly that fix for exactly those
        /// symptoms.
        #[test]
        fn prop_anti_pattern_blocks_only_the_failed_fix(same_hash in any::<bool>(), same_strategy in any::<bool>()) {
            let a = Alert::firing([("alertname", "X")]);
            let h1 = SymptomsHash::of(&a, &ResourceRef::parse("p:deployment/a").unwrap());
            let h2 = SymptomsHash::of(&a, &ResourceRef::parse("p:deployment/b").unwrap());
            let mem = vec![remembered(&h1, "restart")];
            let asked_hash = if same_hash { &h1 } else { &h2 };
            let asked = StrategyId::new(if same_strategy { "restart" } else { "scale" });
            prop_assert_eq!(blocking_failure(asked_hash, &asked, &mem).is_some(), same_hash && same_strategy);
        }
    }
}
