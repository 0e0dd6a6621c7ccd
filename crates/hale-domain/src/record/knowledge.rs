//! Knowledge entries (seed 003 `KnowledgeEntryRecord`), including the
//! anti-pattern memory (`symptoms_hash` + the fix that failed).

use serde::{Deserialize, Serialize};

use super::wire_enum;
use crate::anti_pattern::{RememberedFailure, SymptomsHash};
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
        })
    }
}
