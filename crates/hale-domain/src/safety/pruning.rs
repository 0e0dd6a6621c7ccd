//! Which attempt ledgers may be forgotten (issue 15, bounded memory).
//!
//! A tenant has one ledger per strategy and target it ever ran on
//! ([`LedgerKey`]). Kept forever, they grow with every distinct target
//! healed. A ledger that is *spent* ([`AttemptLedger::is_spent`]: no failure
//! streak, cooldown passed) decides exactly what an empty ledger decides, so
//! the engine's pruning job deletes it; a ledger with a failure streak is
//! kept, with the max-attempts block it may carry, until a success, a reset
//! or a resume clears the streak.

use std::time::Duration;

use super::LedgerKey;
use crate::budget::AttemptLedger;
use crate::ids::StrategyId;
use crate::time::Timestamp;

impl LedgerKey {
    /// Whether this is a ledger of `strategy` (the key starts with the
    /// strategy's id and `|`).
    pub fn is_of(&self, strategy: &StrategyId) -> bool {
        self.as_str()
            .strip_prefix(strategy.as_str())
            .is_some_and(|rest| rest.starts_with('|'))
    }
}

/// The cooldown that binds the ledger `key` under the tenant's strategies
/// (`(id, cooldown)` pairs): its strategy's. A strategy id may itself
/// contain `|`, so two strategies may both claim a key (`a` and `a|b` both
/// claim `a|b|prod:deployment/x`); then the longest cooldown binds. `None`
/// when no strategy claims it (the strategy was removed from the policy).
pub fn ledger_cooldown<'a>(
    key: &LedgerKey,
    strategies: impl IntoIterator<Item = (&'a StrategyId, Duration)>,
) -> Option<Duration> {
    strategies
        .into_iter()
        .filter(|(id, _)| key.is_of(id))
        .map(|(_, cooldown)| cooldown)
        .max()
}

/// Whether the ledger `key` may be pruned at `now`: it is spent under its
/// strategy's cooldown. A ledger of a strategy no longer in the policy binds
/// no healing, so it is spent once it carries no failure streak (should the
/// strategy come back under the same id, its cooldown starts afresh on that
/// target, as on a target it never ran on).
pub fn ledger_prunable<'a>(
    key: &LedgerKey,
    ledger: &AttemptLedger,
    strategies: impl IntoIterator<Item = (&'a StrategyId, Duration)>,
    now: Timestamp,
) -> bool {
    let cooldown = ledger_cooldown(key, strategies).unwrap_or(Duration::ZERO);
    ledger.is_spent(cooldown, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::ResourceRef;

    fn key(strategy: &str) -> LedgerKey {
        let r = ResourceRef::parse("prod:deployment/app").unwrap();
        LedgerKey::new(&StrategyId::new(strategy), &r)
    }

    fn started(at: i64, failures: u32) -> AttemptLedger {
        AttemptLedger {
            consecutive_failures: failures,
            total_attempts: failures + 1,
            last_started_at: Some(Timestamp::from_unix_secs(at)),
        }
    }

    #[test]
    fn a_key_belongs_to_the_strategy_whose_id_and_bar_start_it() {
        let k = key("restart");
        assert!(k.is_of(&StrategyId::new("restart")));
        assert!(
            !k.is_of(&StrategyId::new("rest")),
            "a prefix of the id is another strategy"
        );
        assert!(!k.is_of(&StrategyId::new("restart-fast")));
        assert!(
            key("a|b").is_of(&StrategyId::new("a")),
            "ids with | claim both"
        );
    }

    #[test]
    fn the_longest_cooldown_of_the_claiming_strategies_binds() {
        let (a, ab, c) = (
            StrategyId::new("a"),
            StrategyId::new("a|b"),
            StrategyId::new("c"),
        );
        let strategies = [
            (&a, Duration::from_secs(60)),
            (&ab, Duration::from_secs(600)),
            (&c, Duration::from_secs(6000)),
        ];
        assert_eq!(
            ledger_cooldown(&key("a|b"), strategies),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            ledger_cooldown(&key("a"), strategies),
            Some(Duration::from_secs(60))
        );
        assert_eq!(ledger_cooldown(&key("gone"), strategies), None);
    }

    #[test]
    fn prunable_when_spent_under_its_strategy_and_gone_strategies_bind_nothing() {
        let restart = StrategyId::new("restart");
        let policy = [(&restart, Duration::from_secs(300))];
        let t = Timestamp::from_unix_secs;
        assert!(!ledger_prunable(
            &key("restart"),
            &started(0, 0),
            policy,
            t(299)
        ));
        assert!(ledger_prunable(
            &key("restart"),
            &started(0, 0),
            policy,
            t(300)
        ));
        assert!(
            !ledger_prunable(&key("restart"), &started(0, 2), policy, t(1_000_000)),
            "a failure streak keeps the ledger and its max-attempts block"
        );
        assert!(ledger_prunable(&key("gone"), &started(0, 0), policy, t(1)));
        assert!(!ledger_prunable(&key("gone"), &started(0, 1), policy, t(1)));
    }
}
