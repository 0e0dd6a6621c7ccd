-- Effectiveness (hale_domain::effectiveness, issue 16): whether a COMPLETED
-- operation fixed what its alert was about. NULL for operations that are not
-- tracked (not completed, or without an alert), so every existing row stays
-- valid. The partial index serves the periodic job and intake, which read
-- a tenant's pending operations.

ALTER TABLE healing_operations
    ADD COLUMN effectiveness text,
    ADD COLUMN alert_resolved_at timestamptz,
    ADD COLUMN effectiveness_settled_at timestamptz,
    ADD CONSTRAINT healing_operations_effectiveness_check
        CHECK (effectiveness IN ('pending', 'effective', 'ineffective'));

CREATE INDEX healing_operations_effectiveness_pending
    ON healing_operations (tenant, completed_at)
    WHERE effectiveness = 'pending';
