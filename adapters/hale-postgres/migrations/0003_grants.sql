-- Privileges of the application role `hale_app` (see docs/stores.md for how
-- to create it and `hale_migrator`, which owns everything here).
--
-- The application role owns nothing, so it cannot alter tables, disable
-- row-level security or drop policies. It gets only what the store ports
-- use: the audit log and the timeline are append-only (no UPDATE, no
-- DELETE), the other tenant tables are read/write. DELETE on the mutable
-- tables is kept for retention jobs; row-level security still limits it to
-- the current tenant's rows.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hale_app') THEN
        RAISE EXCEPTION 'role hale_app does not exist'
            USING HINT = 'create the roles first: see docs/stores.md (hale_postgres::role_setup_sql)';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO hale_app', current_schema());
END
$$;

REVOKE ALL ON approvals, timeline_events, audit_log, incidents, knowledge_entries,
    healing_operations, alert_fingerprints, tenant_state, platform_state FROM PUBLIC;

GRANT SELECT, INSERT ON audit_log, timeline_events TO hale_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON approvals, incidents, knowledge_entries,
    healing_operations, alert_fingerprints, tenant_state TO hale_app;
GRANT SELECT, INSERT, UPDATE ON platform_state TO hale_app;

-- The application checks on start that the schema is migrated.
REVOKE ALL ON _sqlx_migrations FROM PUBLIC;
GRANT SELECT ON _sqlx_migrations TO hale_app;
