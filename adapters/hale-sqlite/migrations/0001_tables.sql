-- Hale's durable tables for the embedded store (seed 003's schema, made
-- tenant-aware).
--
-- Each row holds the domain record as a JSON document (`doc`, exactly what
-- serde writes) and exposes seed 003's fields as generated columns over it,
-- so the document is the single source of truth and the columns can never
-- disagree with it. Generated columns carry the CHECK constraints and the
-- indexes. Every key and index leads with `tenant`; there is no row-level
-- security in SQLite, so every query of the store names its tenant.
--
-- Timestamps are RFC 3339 UTC text with exactly six fractional digits
-- (`2026-11-23T17:18:33.000000Z`), as `hale_domain::Timestamp` serializes
-- them. That form sorts as text in time order, so ORDER BY and range
-- filters work on the text; the CHECKs hold every stored instant to it
-- (years 0000-9999, SQLite's own date range). Nothing is in a local zone.
--
-- STRICT tables: a value of the wrong type is an error, not a conversion.

-- === approvals ===============================================================

-- Seed 003 approval_records.
CREATE TABLE approvals (
    tenant                 TEXT NOT NULL,
    id                     TEXT NOT NULL,
    -- The record as the domain serializes it (serde JSON).
    doc                    TEXT NOT NULL CHECK (json_valid(doc)),
    strategy_id            TEXT GENERATED ALWAYS AS (doc ->> '$.strategy_id') VIRTUAL NOT NULL,
    resource               TEXT GENERATED ALWAYS AS ((doc ->> '$.resource.namespace') || ':' || (doc ->> '$.resource.kind') || '/' || (doc ->> '$.resource.name')) VIRTUAL NOT NULL,
    action                 TEXT GENERATED ALWAYS AS (doc ->> '$.action') VIRTUAL NOT NULL,
    description            TEXT GENERATED ALWAYS AS (doc ->> '$.description') VIRTUAL NOT NULL,
    status                 TEXT GENERATED ALWAYS AS (doc ->> '$.status') VIRTUAL NOT NULL
        CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    risk_level             TEXT GENERATED ALWAYS AS (doc ->> '$.risk_level') VIRTUAL NOT NULL
        CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
    required_signatures    INTEGER GENERATED ALWAYS AS (doc ->> '$.required_signatures') VIRTUAL NOT NULL
        CHECK (required_signatures >= 0),
    current_signatures     INTEGER GENERATED ALWAYS AS (json_array_length(doc, '$.signatures')) VIRTUAL NOT NULL,
    signatures             TEXT GENERATED ALWAYS AS (doc -> '$.signatures') VIRTUAL NOT NULL
        CHECK (json_type(doc, '$.signatures') = 'array'),
    blast_radius           TEXT GENERATED ALWAYS AS (doc -> '$.blast_radius') VIRTUAL NOT NULL
        CHECK (json_type(doc, '$.blast_radius') = 'object'),
    dry_run_checks         TEXT GENERATED ALWAYS AS (doc -> '$.dry_run_checks') VIRTUAL NOT NULL
        CHECK (json_type(doc, '$.dry_run_checks') = 'array'),
    requested_by           TEXT GENERATED ALWAYS AS (doc ->> '$.requested_by') VIRTUAL NOT NULL,
    rejection_reason       TEXT GENERATED ALWAYS AS (doc ->> '$.rejection_reason') VIRTUAL,
    rejected_by            TEXT GENERATED ALWAYS AS (doc ->> '$.rejected_by') VIRTUAL,
    metadata               TEXT GENERATED ALWAYS AS (doc -> '$.metadata') VIRTUAL NOT NULL
        CHECK (json_type(doc, '$.metadata') = 'object'),
    fingerprint            TEXT GENERATED ALWAYS AS (doc ->> '$.fingerprint') VIRTUAL,
    hit_count              ANY GENERATED ALWAYS AS (doc ->> '$.hit_count') VIRTUAL NOT NULL,
    last_seen_at           TEXT GENERATED ALWAYS AS (doc ->> '$.last_seen_at') VIRTUAL NOT NULL
        CHECK (last_seen_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    incident_id            TEXT GENERATED ALWAYS AS (doc ->> '$.incident_id') VIRTUAL,
    revision               INTEGER GENERATED ALWAYS AS (doc ->> '$.revision') VIRTUAL NOT NULL
        CHECK (revision >= 0),
    created_at             TEXT GENERATED ALWAYS AS (doc ->> '$.created_at') VIRTUAL NOT NULL
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at             TEXT GENERATED ALWAYS AS (doc ->> '$.updated_at') VIRTUAL NOT NULL
        CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    expires_at             TEXT GENERATED ALWAYS AS (doc ->> '$.expires_at') VIRTUAL NOT NULL
        CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    resolved_at            TEXT GENERATED ALWAYS AS (doc ->> '$.resolved_at') VIRTUAL
        CHECK (resolved_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (tenant, id),
    CHECK (length(tenant) BETWEEN 1 AND 63 AND tenant NOT GLOB '*[^a-z0-9_-]*' AND substr(tenant, 1, 1) GLOB '[a-z0-9]'),
    CHECK (tenant = doc ->> '$.tenant' AND id = doc ->> '$.id')
) STRICT;

CREATE INDEX approvals_tenant_status_idx ON approvals (tenant, status, created_at DESC);
CREATE INDEX approvals_tenant_risk_level_idx ON approvals (tenant, risk_level);
CREATE INDEX approvals_tenant_created_at_idx ON approvals (tenant, created_at DESC, id DESC);
CREATE INDEX approvals_tenant_requested_by_idx ON approvals (tenant, requested_by);
CREATE INDEX approvals_tenant_fingerprint_idx ON approvals (tenant, fingerprint);
CREATE INDEX approvals_tenant_incident_id_idx ON approvals (tenant, incident_id);
CREATE INDEX approvals_tenant_resource_idx ON approvals (tenant, resource, status, created_at);
CREATE INDEX approvals_tenant_pending_expiry_idx ON approvals (tenant, expires_at)
    WHERE status = 'pending';

-- === timeline_events =========================================================

-- Seed 003 timeline_events (append-only: the store never updates or deletes).
CREATE TABLE timeline_events (
    tenant                 TEXT NOT NULL,
    id                     TEXT NOT NULL,
    -- The record as the domain serializes it (serde JSON).
    doc                    TEXT NOT NULL CHECK (json_valid(doc)),
    event_type             TEXT GENERATED ALWAYS AS (doc ->> '$.event_type') VIRTUAL NOT NULL
        CHECK (event_type IN ('system', 'agent', 'security', 'human', 'exec')),
    status                 TEXT GENERATED ALWAYS AS (doc ->> '$.status') VIRTUAL NOT NULL
        CHECK (status IN ('info', 'success', 'warning', 'error')),
    title                  TEXT GENERATED ALWAYS AS (doc ->> '$.title') VIRTUAL NOT NULL,
    description            TEXT GENERATED ALWAYS AS (doc ->> '$.description') VIRTUAL,
    actor                  TEXT GENERATED ALWAYS AS (doc ->> '$.actor') VIRTUAL,
    actor_role             TEXT GENERATED ALWAYS AS (doc ->> '$.actor_role') VIRTUAL,
    risk_level             TEXT GENERATED ALWAYS AS (doc ->> '$.risk_level') VIRTUAL
        CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
    approval_id            TEXT GENERATED ALWAYS AS (doc ->> '$.approval_id') VIRTUAL,
    operation_id           TEXT GENERATED ALWAYS AS (doc ->> '$.operation_id') VIRTUAL,
    incident_id            TEXT GENERATED ALWAYS AS (doc ->> '$.incident_id') VIRTUAL,
    created_at             TEXT GENERATED ALWAYS AS (doc ->> '$.created_at') VIRTUAL NOT NULL
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (tenant, id),
    CHECK (length(tenant) BETWEEN 1 AND 63 AND tenant NOT GLOB '*[^a-z0-9_-]*' AND substr(tenant, 1, 1) GLOB '[a-z0-9]'),
    CHECK (tenant = doc ->> '$.tenant' AND id = doc ->> '$.id')
) STRICT;

CREATE INDEX timeline_events_tenant_created_at_idx
    ON timeline_events (tenant, created_at DESC, id DESC);
CREATE INDEX timeline_events_tenant_event_type_idx
    ON timeline_events (tenant, event_type, created_at DESC);
CREATE INDEX timeline_events_tenant_approval_id_idx ON timeline_events (tenant, approval_id);
CREATE INDEX timeline_events_tenant_operation_id_idx ON timeline_events (tenant, operation_id);
CREATE INDEX timeline_events_tenant_incident_id_idx ON timeline_events (tenant, incident_id);

-- === audit_log ===============================================================

-- Seed 003 audit_logs with the Phase 18 fields and source_system (append-only).
CREATE TABLE audit_log (
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
        CHECK (authorization_channel IN ('auto_repair', 'decision_manager', 'manual')),
    source_system          TEXT GENERATED ALWAYS AS (doc ->> '$.source_system') VIRTUAL NOT NULL
        CHECK (source_system IN ('failure_watcher', 'decision_manager', 'api')),
    retry_count            INTEGER GENERATED ALWAYS AS (doc ->> '$.retry_count') VIRTUAL NOT NULL
        CHECK (retry_count >= 0),
    failure_classification TEXT GENERATED ALWAYS AS (doc ->> '$.failure_classification') VIRTUAL
        CHECK (failure_classification IN ('transient', 'timeout', 'conflict', 'budget_blocked', 'target_gone', 'invalid_action', 'fatal')),
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

-- === incidents ===============================================================

-- Seed 003 incidents (episodic memory), durable from the first alert.
CREATE TABLE incidents (
    tenant                 TEXT NOT NULL,
    id                     TEXT NOT NULL,
    -- The record as the domain serializes it (serde JSON).
    doc                    TEXT NOT NULL CHECK (json_valid(doc)),
    status                 TEXT GENERATED ALWAYS AS (doc ->> '$.status') VIRTUAL NOT NULL
        CHECK (status IN ('investigating', 'mitigating', 'resolved', 'closed', 'escalated')),
    severity               TEXT GENERATED ALWAYS AS (doc ->> '$.severity') VIRTUAL NOT NULL
        CHECK (severity IN ('P0', 'P1', 'P2', 'P3')),
    title                  TEXT GENERATED ALWAYS AS (doc ->> '$.title') VIRTUAL NOT NULL,
    fingerprint            TEXT GENERATED ALWAYS AS (doc ->> '$.fingerprint') VIRTUAL NOT NULL,
    signals                TEXT GENERATED ALWAYS AS (doc -> '$.signals') VIRTUAL NOT NULL
        CHECK (json_type(doc, '$.signals') = 'array'),
    affected_services      TEXT GENERATED ALWAYS AS (doc -> '$.affected_services') VIRTUAL NOT NULL
        CHECK (json_type(doc, '$.affected_services') = 'array'),
    decision_chain         TEXT GENERATED ALWAYS AS (doc -> '$.decision_chain') VIRTUAL NOT NULL
        CHECK (json_type(doc, '$.decision_chain') = 'array'),
    proposal_ids           TEXT GENERATED ALWAYS AS (doc -> '$.proposal_ids') VIRTUAL NOT NULL
        CHECK (json_type(doc, '$.proposal_ids') = 'array'),
    operation_ids          TEXT GENERATED ALWAYS AS (doc -> '$.operation_ids') VIRTUAL NOT NULL
        CHECK (json_type(doc, '$.operation_ids') = 'array'),
    outcome                TEXT GENERATED ALWAYS AS (doc -> '$.outcome') VIRTUAL,
    ttl_days               INTEGER GENERATED ALWAYS AS (doc ->> '$.ttl_days') VIRTUAL NOT NULL
        CHECK (ttl_days >= 0),
    revision               INTEGER GENERATED ALWAYS AS (doc ->> '$.revision') VIRTUAL NOT NULL
        CHECK (revision >= 0),
    created_at             TEXT GENERATED ALWAYS AS (doc ->> '$.created_at') VIRTUAL NOT NULL
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at             TEXT GENERATED ALWAYS AS (doc ->> '$.updated_at') VIRTUAL NOT NULL
        CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    resolved_at            TEXT GENERATED ALWAYS AS (doc ->> '$.resolved_at') VIRTUAL
        CHECK (resolved_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    closed_at              TEXT GENERATED ALWAYS AS (doc ->> '$.closed_at') VIRTUAL
        CHECK (closed_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (tenant, id),
    CHECK (length(tenant) BETWEEN 1 AND 63 AND tenant NOT GLOB '*[^a-z0-9_-]*' AND substr(tenant, 1, 1) GLOB '[a-z0-9]'),
    CHECK (tenant = doc ->> '$.tenant' AND id = doc ->> '$.id')
) STRICT;

CREATE INDEX incidents_tenant_status_idx ON incidents (tenant, status, created_at DESC);
CREATE INDEX incidents_tenant_severity_idx ON incidents (tenant, severity, created_at DESC);
CREATE INDEX incidents_tenant_created_at_idx ON incidents (tenant, created_at DESC, id DESC);
CREATE INDEX incidents_tenant_resolved_at_idx ON incidents (tenant, resolved_at);
CREATE INDEX incidents_tenant_fingerprint_idx
    ON incidents (tenant, fingerprint, created_at DESC, id DESC);

-- === knowledge_entries =======================================================

-- Seed 003 knowledge_entries, including anti-patterns (symptoms_hash + failed_strategy_id).
CREATE TABLE knowledge_entries (
    tenant                 TEXT NOT NULL,
    id                     TEXT NOT NULL,
    -- The record as the domain serializes it (serde JSON).
    doc                    TEXT NOT NULL CHECK (json_valid(doc)),
    title                  TEXT GENERATED ALWAYS AS (doc ->> '$.title') VIRTUAL NOT NULL,
    content                TEXT GENERATED ALWAYS AS (doc ->> '$.content') VIRTUAL NOT NULL,
    entry_type             TEXT GENERATED ALWAYS AS (doc ->> '$.entry_type') VIRTUAL NOT NULL
        CHECK (entry_type IN ('incident_case', 'runbook', 'best_practice', 'postmortem', 'anti_pattern')),
    category               TEXT GENERATED ALWAYS AS (doc ->> '$.category') VIRTUAL NOT NULL,
    tags                   TEXT GENERATED ALWAYS AS (doc -> '$.tags') VIRTUAL NOT NULL
        CHECK (json_type(doc, '$.tags') = 'array'),
    source                 TEXT GENERATED ALWAYS AS (doc ->> '$.source') VIRTUAL NOT NULL
        CHECK (source IN ('ai_extracted', 'human')),
    status                 TEXT GENERATED ALWAYS AS (doc ->> '$.status') VIRTUAL NOT NULL
        CHECK (status IN ('draft', 'review', 'approved', 'archived')),
    related_incident_id    TEXT GENERATED ALWAYS AS (doc ->> '$.related_incident_id') VIRTUAL,
    related_playbook_id    TEXT GENERATED ALWAYS AS (doc ->> '$.related_playbook_id') VIRTUAL,
    symptoms_hash          TEXT GENERATED ALWAYS AS (doc ->> '$.symptoms_hash') VIRTUAL,
    failed_strategy_id     TEXT GENERATED ALWAYS AS (doc ->> '$.failed_strategy_id') VIRTUAL,
    view_count             ANY GENERATED ALWAYS AS (doc ->> '$.view_count') VIRTUAL NOT NULL,
    created_by             TEXT GENERATED ALWAYS AS (doc ->> '$.created_by') VIRTUAL,
    created_at             TEXT GENERATED ALWAYS AS (doc ->> '$.created_at') VIRTUAL NOT NULL
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at             TEXT GENERATED ALWAYS AS (doc ->> '$.updated_at') VIRTUAL NOT NULL
        CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (tenant, id),
    CHECK (length(tenant) BETWEEN 1 AND 63 AND tenant NOT GLOB '*[^a-z0-9_-]*' AND substr(tenant, 1, 1) GLOB '[a-z0-9]'),
    CHECK (tenant = doc ->> '$.tenant' AND id = doc ->> '$.id')
) STRICT;

CREATE INDEX knowledge_entries_tenant_entry_type_idx
    ON knowledge_entries (tenant, entry_type, created_at DESC);
CREATE INDEX knowledge_entries_tenant_category_idx ON knowledge_entries (tenant, category);
CREATE INDEX knowledge_entries_tenant_status_idx
    ON knowledge_entries (tenant, status, created_at DESC);
CREATE INDEX knowledge_entries_tenant_created_at_idx
    ON knowledge_entries (tenant, created_at DESC, id DESC);
CREATE INDEX knowledge_entries_tenant_symptoms_hash_idx
    ON knowledge_entries (tenant, symptoms_hash);

-- === healing_operations ======================================================

-- Seed 004 healing operations. The action log is the `actions_run` array inside the
-- document: it is always read and replaced whole with its operation (under the
-- revision compare-and-set) and is short; the audit log has a row per action.
CREATE TABLE healing_operations (
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
        CHECK (authorization_channel IN ('auto_repair', 'decision_manager', 'manual')),
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
        CHECK (failure_class IN ('transient', 'timeout', 'conflict', 'budget_blocked', 'target_gone', 'invalid_action', 'fatal')),
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

-- === alert_fingerprints ======================================================

-- Seed 003 strategy B (storm convergence). The record has no tenant field: the
-- tenant is the key column only.
CREATE TABLE alert_fingerprints (
    tenant                 TEXT NOT NULL,
    fingerprint            TEXT NOT NULL,
    -- The record as the domain serializes it (serde JSON).
    doc                    TEXT NOT NULL CHECK (json_valid(doc)),
    alertname              TEXT GENERATED ALWAYS AS (doc ->> '$.alertname') VIRTUAL NOT NULL,
    identity               TEXT GENERATED ALWAYS AS (doc -> '$.identity') VIRTUAL NOT NULL
        CHECK (json_type(doc, '$.identity') = 'object'),
    status                 TEXT GENERATED ALWAYS AS (doc ->> '$.status') VIRTUAL NOT NULL
        CHECK (status IN ('firing', 'resolved')),
    hit_count              ANY GENERATED ALWAYS AS (doc ->> '$.hit_count') VIRTUAL NOT NULL,
    status_hits            ANY GENERATED ALWAYS AS (doc ->> '$.status_hits') VIRTUAL NOT NULL,
    episode                ANY GENERATED ALWAYS AS (doc ->> '$.episode') VIRTUAL NOT NULL,
    episode_started_at     TEXT GENERATED ALWAYS AS (doc ->> '$.episode_started_at') VIRTUAL NOT NULL
        CHECK (episode_started_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    recent_firings         TEXT GENERATED ALWAYS AS (doc -> '$.recent_firings') VIRTUAL NOT NULL
        CHECK (json_type(doc, '$.recent_firings') = 'array'),
    claim_kind             TEXT GENERATED ALWAYS AS (doc ->> '$.claim.kind') VIRTUAL
        CHECK (claim_kind IN ('operation', 'approval')),
    claim_id               TEXT GENERATED ALWAYS AS (doc ->> '$.claim.id') VIRTUAL,
    claim_at               TEXT GENERATED ALWAYS AS (doc ->> '$.claim.at') VIRTUAL,
    first_seen_at          TEXT GENERATED ALWAYS AS (doc ->> '$.first_seen_at') VIRTUAL NOT NULL
        CHECK (first_seen_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    last_seen_at           TEXT GENERATED ALWAYS AS (doc ->> '$.last_seen_at') VIRTUAL NOT NULL
        CHECK (last_seen_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (tenant, fingerprint),
    CHECK (length(tenant) BETWEEN 1 AND 63 AND tenant NOT GLOB '*[^a-z0-9_-]*' AND substr(tenant, 1, 1) GLOB '[a-z0-9]')
) STRICT;

CREATE INDEX alert_fingerprints_tenant_last_seen_at_idx
    ON alert_fingerprints (tenant, last_seen_at DESC, fingerprint DESC);

-- === runtime state snapshots =================================================

CREATE TABLE tenant_state (
    tenant   TEXT NOT NULL PRIMARY KEY,
    doc      TEXT NOT NULL CHECK (json_valid(doc) AND json_type(doc) = 'object'),
    saved_at TEXT GENERATED ALWAYS AS (doc ->> '$.saved_at') VIRTUAL NOT NULL,
    CHECK (length(tenant) BETWEEN 1 AND 63 AND tenant NOT GLOB '*[^a-z0-9_-]*' AND substr(tenant, 1, 1) GLOB '[a-z0-9]')
) STRICT;

-- Platform state is not tenant data: one row, no tenant column.
CREATE TABLE platform_state (
    id       TEXT NOT NULL PRIMARY KEY CHECK (id = 'platform'),
    doc      TEXT NOT NULL CHECK (json_valid(doc) AND json_type(doc) = 'object'),
    saved_at TEXT GENERATED ALWAYS AS (doc ->> '$.saved_at') VIRTUAL NOT NULL
) STRICT;
