-- The failure class `fenced` (issue 14, fencing at the point of action): an
-- action refused because its lock was lost, either because the target
-- already carries a higher fencing token or because the lease could not be
-- confirmed right before acting. Operations and audit rows record it like
-- every other class, so the CHECK constraints naming the wire values grow by
-- one. The new lists contain the old ones, so every stored row satisfies
-- them; Postgres still checks each row once while adding the constraint.

ALTER TABLE audit_log
    DROP CONSTRAINT audit_log_failure_classification_check,
    ADD CONSTRAINT audit_log_failure_classification_check CHECK (failure_classification IN (
        'transient', 'timeout', 'conflict', 'budget_blocked', 'target_gone',
        'invalid_action', 'fatal', 'fenced'
    ));

ALTER TABLE healing_operations
    DROP CONSTRAINT healing_operations_failure_class_check,
    ADD CONSTRAINT healing_operations_failure_class_check CHECK (failure_class IN (
        'transient', 'timeout', 'conflict', 'budget_blocked', 'target_gone',
        'invalid_action', 'fatal', 'fenced'
    ));
