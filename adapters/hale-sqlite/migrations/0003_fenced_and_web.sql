-- Two new wire values in the CHECKs of `audit_log` and `healing_operations`:
-- the failure class `fenced` (fencing at the point of action: an action
-- refused because its lock was lost, either because the target already
-- carries a higher fencing token or because the lease could not be
-- confirmed right before acting), and the authorization channel `web` (an
-- act through the operator console).
--
-- SQLite cannot alter a constraint, so the two tables that hold a failure
-- class are rebuilt the documented way (sqlite.org/lang_altertable.html,
-- "making other kinds of table schema changes"): create the new table,
-- copy the documents, drop the old table, rename, re-create the indexes.
-- Only `doc` is stored (every other column is generated from it), so the
-- copy is exact. No view, trigger or foreign key refers to these tables.
-- sqlx runs the migration in one transaction: a failure leaves the old
-- tables as they were.

-- === audit_log ===============================================================

CREATE TABLE audit_log_new (
    tenant                 TEXT NOT NULL,
    id                     TEXT NOT NULL,
    -- The record as the domain serializes it (serde JSON).
    doc                    TEXT NOT NULL CHECK (json_valid(doc)),
    operation_type         TEXT GENERATED ALWAYS AS (doc ->> '$.operation_type') VIRTUAL NOT NULL,
    target_resource        TEXT GENERATED ALWAYS AS (doc ->> '$.target_resource') VIRTUAL NOT NULL,
    success                INTEGER GENERATED ALWAYS AS (doc ->> '$.success') VIRTUAL NOT NULL
        CHECK (success IN (0, 1)),
    reason                 TEXT GENERATED ALWAYS AS (doc ->> '$.reason') VIRTUAL,
    error_message          TEXT GENERATED ALWAYS AS (doc ->> '$.error_message') VIRTUAL,
    response               TEXT GENERATED ALWAYS AS (doc -> '$.response') VIRTUAL,
    executed_by            TEXT GENERATED ALWAYS AS (doc ->> '$.executed_by') VIRTUAL NOT NULL,
    execution_duration_ms  ANY GENERATED ALWAYS AS (doc ->> '$.execution_duration_ms') VIRTUAL,
    dry_run_passed         INTEGER GENERATED ALWAYS AS (doc ->> '$.dry_run_passed') VIRTUAL NOT NULL
        CHECK (dry_run_passed IN (0, 1)),
    dry_run_message        TEXT GENERATED ALWAYS AS (doc ->> '$.dry_run_message') VIRTUAL,
    authorization_channel  TEXT GENERATED ALWAYS AS (doc ->> '$.authorization_channel') VIRTUAL NOT NULL
        CHECK (authorization_channel IN ('auto_repair', 'decision_manager', 'manual', 'web')),
    source_system          TEXT GENERATED ALWAYS AS (doc ->> '$.source_system') VIRTUAL NOT NULL
        CHECK (source_system IN ('failure_watcher', 'decision_manager', 'api')),
    retry_count            INTEGER GENERATED ALWAYS AS (doc ->> '$.retry_count') VIRTUAL NOT NULL
        CHECK (retry_count >= 0),
    failure_classification TEXT GENERATED ALWAYS AS (doc ->> '$.failure_classification') VIRTUAL
        CHECK (failure_classification IN ('transient', 'timeout', 'conflict', 'budget_blocked', 'target_gone', 'invalid_action', 'fatal', 'fenced')),
    approval_id            TEXT GENERATED ALWAYS AS (doc ->> '$.approval_id') VIRTUAL,
    source_approval_id     TEXT GENERATED ALWAYS AS (doc ->> '$.source_approval_id') VIRTUAL,
    operation_id           TEXT GENERATED ALWAYS AS (doc ->> '$.operation_id') VIRTUAL,
    incident_id            TEXT GENERATED ALWAYS AS (doc ->> '$.incident_id') VIRTUAL,
    auto_repair_attempted  INTEGER GENERATED ALWAYS AS (doc ->> '$.auto_repair_attempted') VIRTUAL NOT NULL
        CHECK (auto_repair_attempted IN (0, 1)),
    auto_repair_result     TEXT GENERATED ALWAYS AS (doc ->> '$.auto_repair_result') VIRTUAL,
    created_at             TEXT GENERATED ALWAYS AS (doc ->> '$.created_at') VIRTUAL NOT NULL
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (tenant, id),
    CHECK (length(tenant) BETWEEN 1 AND 63 AND tenant NOT GLOB '*[^a-z0-9_-]*' AND substr(tenant, 1, 1) GLOB '[a-z0-9]'),
    CHECK (tenant = doc ->> '$.tenant' AND id = doc ->> '$.id')
) STRICT;

INSERT INTO audit_log_new (tenant, id, doc) SELECT tenant, id, doc FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;

CREATE INDEX audit_log_tenant_created_at_idx ON audit_log (tenant, created_at DESC, id DESC);
CREATE INDEX audit_log_tenant_approval_id_idx ON audit_log (tenant, approval_id);
CREATE INDEX audit_log_tenant_operation_type_idx
    ON audit_log (tenant, operation_type, created_at DESC);
CREATE INDEX audit_log_tenant_success_idx ON audit_log (tenant, success, created_at DESC);
CREATE INDEX audit_log_tenant_authorization_channel_idx
    ON audit_log (tenant, authorization_channel);
CREATE INDEX audit_log_tenant_failure_classification_idx
    ON audit_log (tenant, failure_classification);
CREATE INDEX audit_log_tenant_source_system_idx ON audit_log (tenant, source_system);
CREATE INDEX audit_log_tenant_source_approval_id_idx ON audit_log (tenant, source_approval_id);
CREATE INDEX audit_log_tenant_operation_id_idx ON audit_log (tenant, operation_id);
CREATE INDEX audit_log_tenant_incident_id_idx ON audit_log (tenant, incident_id);

-- === healing_operations ======================================================

CREATE TABLE healing_operations_new (
    tenant                 TEXT NOT NULL,
    id                     TEXT NOT NULL,
    -- The record as the domain serializes it (serde JSON).
    doc                    TEXT NOT NULL CHECK (json_valid(doc)),
    strategy_id            TEXT GENERATED ALWAYS AS (doc ->> '$.strategy_id') VIRTUAL NOT NULL,
    resource               TEXT GENERATED ALWAYS AS ((doc ->> '$.resource.namespace') || ':' || (doc ->> '$.resource.kind') || '/' || (doc ->> '$.resource.name')) VIRTUAL NOT NULL,
    fingerprint            TEXT GENERATED ALWAYS AS (doc ->> '$.fingerprint') VIRTUAL,
    incident_id            TEXT GENERATED ALWAYS AS (doc ->> '$.incident_id') VIRTUAL,
    approval_id            TEXT GENERATED ALWAYS AS (doc ->> '$.approval_id') VIRTUAL,
    source_system          TEXT GENERATED ALWAYS AS (doc ->> '$.source_system') VIRTUAL NOT NULL
        CHECK (source_system IN ('failure_watcher', 'decision_manager', 'api')),
    authorization_channel  TEXT GENERATED ALWAYS AS (doc ->> '$.authorization_channel') VIRTUAL NOT NULL
        CHECK (authorization_channel IN ('auto_repair', 'decision_manager', 'manual', 'web')),
    risk                   TEXT GENERATED ALWAYS AS (doc ->> '$.risk') VIRTUAL NOT NULL
        CHECK (risk IN ('low', 'medium', 'high', 'critical')),
    state                  TEXT GENERATED ALWAYS AS (doc ->> '$.state') VIRTUAL NOT NULL
        CHECK (state IN ('IDLE', 'DIAGNOSING', 'HEALING', 'VERIFYING', 'COMPLETED', 'FAILED', 'INTERRUPTED')),
    diagnosis              TEXT GENERATED ALWAYS AS (doc -> '$.diagnosis') VIRTUAL,
    actions_run            TEXT GENERATED ALWAYS AS (doc -> '$.actions_run') VIRTUAL NOT NULL
        CHECK (json_type(doc, '$.actions_run') = 'array'),
    result                 TEXT GENERATED ALWAYS AS (doc ->> '$.result') VIRTUAL
        CHECK (result IN ('SUCCESS', 'FAILED', 'SKIPPED')),
    error                  TEXT GENERATED ALWAYS AS (doc ->> '$.error') VIRTUAL,
    failure_class          TEXT GENERATED ALWAYS AS (doc ->> '$.failure_class') VIRTUAL
        CHECK (failure_class IN ('transient', 'timeout', 'conflict', 'budget_blocked', 'target_gone', 'invalid_action', 'fatal', 'fenced')),
    attempt_number         INTEGER GENERATED ALWAYS AS (doc ->> '$.attempt_number') VIRTUAL NOT NULL
        CHECK (attempt_number >= 0),
    fencing_token          ANY GENERATED ALWAYS AS (doc ->> '$.fencing_token') VIRTUAL,
    escalated              INTEGER GENERATED ALWAYS AS (doc ->> '$.escalated') VIRTUAL NOT NULL
        CHECK (escalated IN (0, 1)),
    dry_run                INTEGER GENERATED ALWAYS AS (doc ->> '$.dry_run') VIRTUAL NOT NULL
        CHECK (dry_run IN (0, 1)),
    revision               INTEGER GENERATED ALWAYS AS (doc ->> '$.revision') VIRTUAL NOT NULL
        CHECK (revision >= 0),
    started_at             TEXT GENERATED ALWAYS AS (doc ->> '$.started_at') VIRTUAL NOT NULL
        CHECK (started_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at             TEXT GENERATED ALWAYS AS (doc ->> '$.updated_at') VIRTUAL NOT NULL
        CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    completed_at           TEXT GENERATED ALWAYS AS (doc ->> '$.completed_at') VIRTUAL
        CHECK (completed_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (tenant, id),
    CHECK (length(tenant) BETWEEN 1 AND 63 AND tenant NOT GLOB '*[^a-z0-9_-]*' AND substr(tenant, 1, 1) GLOB '[a-z0-9]'),
    CHECK (tenant = doc ->> '$.tenant' AND id = doc ->> '$.id')
) STRICT;

INSERT INTO healing_operations_new (tenant, id, doc) SELECT tenant, id, doc FROM healing_operations;
DROP TABLE healing_operations;
ALTER TABLE healing_operations_new RENAME TO healing_operations;

CREATE INDEX healing_operations_tenant_started_at_idx
    ON healing_operations (tenant, started_at DESC, id DESC);
CREATE INDEX healing_operations_tenant_state_idx
    ON healing_operations (tenant, state, started_at DESC);
CREATE INDEX healing_operations_tenant_strategy_id_idx
    ON healing_operations (tenant, strategy_id, started_at DESC);
CREATE INDEX healing_operations_tenant_resource_idx
    ON healing_operations (tenant, resource, started_at DESC);
CREATE INDEX healing_operations_tenant_fingerprint_idx ON healing_operations (tenant, fingerprint);
CREATE INDEX healing_operations_tenant_incident_id_idx ON healing_operations (tenant, incident_id);
CREATE INDEX healing_operations_tenant_approval_id_idx ON healing_operations (tenant, approval_id);
CREATE INDEX healing_operations_tenant_unfinished_idx
    ON healing_operations (tenant, started_at, id)
    WHERE state NOT IN ('COMPLETED', 'FAILED', 'INTERRUPTED');
