//! Knowledge entries (seed 003 `KnowledgeEntryRecord`), including the
//! anti-pattern memory (`symptoms_hash` + the fix that failed).

use serde::{Deserialize, Serialize};

use super::wire_enum;
use crate::anti_pattern::{MemoryCause, RememberedFailure, SymptomsHash};

/// The category of the anti-pattern entries the engine writes when a
/// strategy was ineffective too often on one target.
pub const INEFFECTIVE_CHAIN_CATEGORY: &str = "ineffective_chain";
use crate::ids::{Actor, IncidentId, KnowledgeId, StrategyId};
use crate::tenant::TenantId;
use crate::time::Timestamp;

wire_enum!(
    /// Entry type (seed 003, plus `anti_pattern`).
    EntryType {
        /// A past incident.
        IncidentCase => "incident_case",
        /// A runbook.
        Runbook => "runbook",
        /// Advice.
        BestPractice => "best_practice",
        /// A postmortem.
        Postmortem => "postmortem",
        /// A fix that failed for a symptom pattern; blocks it automatically.
        AntiPattern => "anti_pattern",
    }
);

wire_enum!(
    /// Who wrote the entry.
    EntrySource {
        /// Extracted automatically (by the engine).
        AiExtracted => "ai_extracted",
        /// Written by a person.
        Human => "human",
    }
);

wire_enum!(
    /// Review status (seed 003).
    EntryStatus {
        /// Draft.
        Draft => "draft",
        /// In review.
        Review => "review",
        /// Approved.
        Approved => "approved",
        /// Archived (an archived anti-pattern no longer blocks).
        Archived => "archived",
    }
);

/// A knowledge entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnowledgeEntry {
    /// Id.
    pub id: KnowledgeId,
    /// Owning tenant.
    pub tenant: TenantId,
    /// Title.
    pub title: String,
    /// Body.
    pub content: String,
    /// Type.
    pub entry_type: EntryType,
    /// Category.
    pub category: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Who wrote it.
    pub source: EntrySource,
    /// Review status.
    pub status: EntryStatus,
    /// Related incident.
    pub related_incident_id: Option<IncidentId>,
    /// Related playbook.
    pub related_playbook_id: Option<String>,
    /// Symptom hash (anti-pattern lookups).
    pub symptoms_hash: Option<SymptomsHash>,
    /// For anti-patterns: the strategy that failed.
    pub failed_strategy_id: Option<StrategyId>,
    /// Views.
    pub view_count: u64,
    /// Author.
    pub created_by: Option<Actor>,
    /// Created.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl KnowledgeEntry {
    /// A person archives the entry: `false` (and no change) when it already
    /// was. Archiving is how an anti-pattern block is lifted: an archived
    /// entry is no longer remembered ([`KnowledgeEntry::as_remembered_failure`]).
    pub fn archive(&mut self, at: Timestamp) -> bool {
        if self.status == EntryStatus::Archived {
            return false;
        }
        self.status = EntryStatus::Archived;
        self.updated_at = self.updated_at.max(at);
        true
    }

    /// The anti-pattern this entry remembers, if it is an active one.
    pub fn as_remembered_failure(&self) -> Option<RememberedFailure> {
        if self.entry_type != EntryType::AntiPattern || self.status == EntryStatus::Archived {
            return None;
        }
        Some(RememberedFailure {
            symptoms_hash: self.symptoms_hash.clone()?,
            strategy_id: self.failed_strategy_id.clone()?,
            knowledge_id: self.id.clone(),
            recorded_at: self.created_at,
            cause: if self.category == INEFFECTIVE_CHAIN_CATEGORY {
                MemoryCause::IneffectiveChain
            } else {
                MemoryCause::VerificationFailed
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(entry_type: EntryType, status: EntryStatus) -> KnowledgeEntry {
        KnowledgeEntry {
            id: KnowledgeId::new("kn-1"),
            tenant: TenantId::new("t").unwrap(),
            title: "restart did not help".into(),
            content: String::new(),
            entry_type,
            category: "anti_pattern".into(),
            tags: Vec::new(),
            source: EntrySource::Human,
            status,
            related_incident_id: None,
            related_playbook_id: None,
            symptoms_hash: Some(SymptomsHash::from_hex("ab")),
            failed_strategy_id: Some(StrategyId::new("restart")),
            view_count: 0,
            created_by: None,
            created_at: Timestamp::from_unix_secs(9),
            updated_at: Timestamp::from_unix_secs(9),
        }
    }

    /// Archiving lifts an anti-pattern, once.
    #[test]
    fn archiving_forgets_an_anti_pattern_once() {
        let mut e = entry(EntryType::AntiPattern, EntryStatus::Approved);
        assert!(e.as_remembered_failure().is_some());
        assert!(e.archive(Timestamp::from_unix_secs(20)));
        assert_eq!(e.status, EntryStatus::Archived);
        assert_eq!(e.updated_at, Timestamp::from_unix_secs(20));
        assert_eq!(e.as_remembered_failure(), None);
        let before = e.clone();
        assert!(!e.archive(Timestamp::from_unix_secs(30)));
        assert_eq!(e, before);
    }

    /// Only an anti-pattern entry that is not archived and names both the
    /// symptoms and the failed fix is remembered.
    #[test]
    fn only_active_complete_anti_patterns_are_remembered() {
        for entry_type in EntryType::ALL.iter().copied() {
            for status in EntryStatus::ALL.iter().copied() {
                let got = entry(entry_type, status).as_remembered_failure();
                let active =
                    entry_type == EntryType::AntiPattern && status != EntryStatus::Archived;
                assert_eq!(got.is_some(), active, "{entry_type} {status}");
            }
        }
        let got = entry(EntryType::AntiPattern, EntryStatus::Approved)
            .as_remembered_failure()
            .unwrap();
        assert_eq!(
            got,
            RememberedFailure {
                symptoms_hash: SymptomsHash::from_hex("ab"),
                strategy_id: StrategyId::new("restart"),
                knowledge_id: KnowledgeId::new("kn-1"),
                recorded_at: Timestamp::from_unix_secs(9),
                cause: MemoryCause::VerificationFailed,
            }
        );
        let mut chain = entry(EntryType::AntiPattern, EntryStatus::Approved);
        chain.category = INEFFECTIVE_CHAIN_CATEGORY.into();
        assert_eq!(
            chain.as_remembered_failure().map(|r| r.cause),
            Some(MemoryCause::IneffectiveChain)
        );
        let mut no_hash = entry(EntryType::AntiPattern, EntryStatus::Approved);
        no_hash.symptoms_hash = None;
        assert_eq!(no_hash.as_remembered_failure(), None);
    }
}
