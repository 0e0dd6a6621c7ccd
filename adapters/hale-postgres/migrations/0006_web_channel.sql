-- The operator console's acts are audited with authorization channel `web`
-- (hale_domain::AuthorizationChannel::Web), next to `manual` for the JSON API.
-- Widening a CHECK keeps every existing row valid.

ALTER TABLE audit_log
    DROP CONSTRAINT audit_log_authorization_channel_check,
    ADD CONSTRAINT audit_log_authorization_channel_check
        CHECK (authorization_channel IN ('auto_repair', 'decision_manager', 'manual', 'web'));

ALTER TABLE healing_operations
    DROP CONSTRAINT healing_operations_authorization_channel_check,
    ADD CONSTRAINT healing_operations_authorization_channel_check
        CHECK (authorization_channel IN ('auto_repair', 'decision_manager', 'manual', 'web'));
