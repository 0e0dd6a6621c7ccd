-- Tenant isolation by row-level security (seed 001, ADR-118, fixed per its
-- critic: fail closed, no backdoor value).
--
-- The application sets `hale.tenant` with `set_config('hale.tenant', $1,
-- true)` at the start of every transaction. A row is visible and writable
-- only when its `tenant` equals that setting. When the setting is missing,
-- `current_setting('hale.tenant', true)` is NULL; once a transaction on the
-- session has set and ended it, it reads as ''. Both compare as "no match",
-- and no tenant can be '' (the tenant CHECK constraints), so a connection
-- with no tenant sees nothing and can write nothing. There is no value that
-- matches every tenant.
--
-- FORCE makes the policies apply to the table owner (the migration role) as
-- well; only superusers and roles with BYPASSRLS skip them, and the
-- application role has neither.

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'approvals', 'timeline_events', 'audit_log', 'incidents',
        'knowledge_entries', 'healing_operations', 'alert_fingerprints',
        'tenant_state'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING (tenant = current_setting(''hale.tenant'', true)) '
            'WITH CHECK (tenant = current_setting(''hale.tenant'', true))',
            t
        );
    END LOOP;
END
$$;
