-- Hale's durable tables (seed 003's schema, made tenant-aware).
--
-- Every tenant table leads with `tenant`, in its primary key and in every
-- index, because every query Hale runs is scoped to one tenant. Timestamps
-- are `timestamptz` (UTC instants, microsecond precision); nothing here
-- depends on the session's time zone. Nested structures are `jsonb`.
-- Enumerations are `text` with CHECK constraints naming the wire values, so a
-- row written by hand with a typo is refused instead of failing on read.
--
-- Row-level security and grants follow in 0002 and 0003.

-- === approvals (seed 003 approval_records) ===================================

CREATE TABLE approvals (
    tenant              text        NOT NULL,
    id                  text        NOT NULL,
    strategy_id         text        NOT NULL,
    -- The target as `namespace:kind/name` (ResourceRef's canonical key).
    resource            text        NOT NULL,
    action              text        NOT NULL,
    description         text        NOT NULL,
    status              text        NOT NULL,
    risk_level          text        NOT NULL,
    required_signatures bigint      NOT NULL,
    -- Derived from `signatures`, kept as a column for queries (seed 003).
    current_signatures  bigint      NOT NULL,
    signatures          jsonb       NOT NULL,
    blast_radius        jsonb       NOT NULL,
    dry_run_checks      jsonb       NOT NULL,
    requested_by        text        NOT NULL,
    rejection_reason    text,
    rejected_by         text,
    metadata            jsonb       NOT NULL,
    fingerprint         text,
    hit_count           bigint      NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    incident_id         text,
    revision            bigint      NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    resolved_at         timestamptz,
    CONSTRAINT approvals_pkey PRIMARY KEY (tenant, id),
    CONSTRAINT approvals_tenant_check CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT approvals_status_check
        CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    CONSTRAINT approvals_risk_level_check
        CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
    CONSTRAINT approvals_signatures_check
        CHECK (required_signatures >= 0 AND current_signatures >= 0),
    CONSTRAINT approvals_counts_check CHECK (hit_count >= 0 AND revision >= 0),
    CONSTRAINT approvals_json_check CHECK (
        jsonb_typeof(signatures) = 'array'
        AND jsonb_typeof(blast_radius) = 'object'
        AND jsonb_typeof(dry_run_checks) = 'array'
        AND jsonb_typeof(metadata) = 'object'
    )
);

CREATE INDEX approvals_tenant_status_idx ON approvals (tenant, status, created_at DESC);
CREATE INDEX approvals_tenant_risk_level_idx ON approvals (tenant, risk_level);
CREATE INDEX approvals_tenant_created_at_idx ON approvals (tenant, created_at DESC, id DESC);
CREATE INDEX approvals_tenant_requested_by_idx ON approvals (tenant, requested_by);
CREATE INDEX approvals_tenant_fingerprint_idx ON approvals (tenant, fingerprint);
CREATE INDEX approvals_tenant_incident_id_idx ON approvals (tenant, incident_id);
CREATE INDEX approvals_tenant_resource_idx ON approvals (tenant, resource, status, created_at);
-- The expiry sweep reads only pending rows.
CREATE INDEX approvals_tenant_pending_expiry_idx ON approvals (tenant, expires_at)
    WHERE status = 'pending';

-- === timeline_events (seed 003) ==============================================

CREATE TABLE timeline_events (
    tenant       text        NOT NULL,
    id           text        NOT NULL,
    event_type   text        NOT NULL,
    status       text        NOT NULL,
    title        text        NOT NULL,
    description  text,
    actor        text,
    actor_role   text,
    risk_level   text,
    approval_id  text,
    operation_id text,
    incident_id  text,
    created_at   timestamptz NOT NULL,
    CONSTRAINT timeline_events_pkey PRIMARY KEY (tenant, id),
    CONSTRAINT timeline_events_tenant_check CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT timeline_events_event_type_check
        CHECK (event_type IN ('system', 'agent', 'security', 'human', 'exec')),
    CONSTRAINT timeline_events_status_check
        CHECK (status IN ('info', 'success', 'warning', 'error')),
    CONSTRAINT timeline_events_risk_level_check
        CHECK (risk_level IN ('low', 'medium', 'high', 'critical'))
);

CREATE INDEX timeline_events_tenant_created_at_idx
    ON timeline_events (tenant, created_at DESC, id DESC);
CREATE INDEX timeline_events_tenant_event_type_idx
    ON timeline_events (tenant, event_type, created_at DESC);
CREATE INDEX timeline_events_tenant_approval_id_idx ON timeline_events (tenant, approval_id);
CREATE INDEX timeline_events_tenant_operation_id_idx ON timeline_events (tenant, operation_id);
CREATE INDEX timeline_events_tenant_incident_id_idx ON timeline_events (tenant, incident_id);

-- === audit_log (seed 003 audit_logs, with the Phase 18 fields) ===============

CREATE TABLE audit_log (
    tenant                 text        NOT NULL,
    id                     text        NOT NULL,
    operation_type         text        NOT NULL,
    target_resource        text        NOT NULL,
    success                boolean     NOT NULL,
    reason                 text,
    error_message          text,
    -- The executor's raw response (seed 003 `k8s_response`).
    response               jsonb,
    executed_by            text        NOT NULL,
    execution_duration_ms  bigint,
    dry_run_passed         boolean     NOT NULL,
    dry_run_message        text,
    authorization_channel  text        NOT NULL,
    source_system          text        NOT NULL,
    retry_count            bigint      NOT NULL,
    failure_classification text,
    approval_id            text,
    source_approval_id     text,
    operation_id           text,
    incident_id            text,
    auto_repair_attempted  boolean     NOT NULL,
    auto_repair_result     text,
    created_at             timestamptz NOT NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (tenant, id),
    CONSTRAINT audit_log_tenant_check CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT audit_log_authorization_channel_check
        CHECK (authorization_channel IN ('auto_repair', 'decision_manager', 'manual')),
    CONSTRAINT audit_log_source_system_check
        CHECK (source_system IN ('failure_watcher', 'decision_manager', 'api')),
    CONSTRAINT audit_log_failure_classification_check CHECK (failure_classification IN (
        'transient', 'timeout', 'conflict', 'budget_blocked', 'target_gone',
        'invalid_action', 'fatal'
    )),
    CONSTRAINT audit_log_counts_check
        CHECK (retry_count >= 0 AND (execution_duration_ms IS NULL OR execution_duration_ms >= 0))
);

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

-- === incidents (seed 003 episodic memory) ====================================

CREATE TABLE incidents (
    tenant            text        NOT NULL,
    id                text        NOT NULL,
    status            text        NOT NULL,
    severity          text        NOT NULL,
    title             text        NOT NULL,
    fingerprint       text        NOT NULL,
    signals           jsonb       NOT NULL,
    affected_services jsonb       NOT NULL,
    decision_chain    jsonb       NOT NULL,
    proposal_ids      jsonb       NOT NULL,
    operation_ids     jsonb       NOT NULL,
    outcome           jsonb,
    ttl_days          bigint      NOT NULL,
    revision          bigint      NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    resolved_at       timestamptz,
    closed_at         timestamptz,
    CONSTRAINT incidents_pkey PRIMARY KEY (tenant, id),
    CONSTRAINT incidents_tenant_check CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT incidents_status_check CHECK (status IN (
        'investigating', 'mitigating', 'resolved', 'closed', 'escalated'
    )),
    CONSTRAINT incidents_severity_check CHECK (severity IN ('P0', 'P1', 'P2', 'P3')),
    CONSTRAINT incidents_counts_check CHECK (ttl_days >= 0 AND revision >= 0),
    CONSTRAINT incidents_json_check CHECK (
        jsonb_typeof(signals) = 'array'
        AND jsonb_typeof(affected_services) = 'array'
        AND jsonb_typeof(decision_chain) = 'array'
        AND jsonb_typeof(proposal_ids) = 'array'
        AND jsonb_typeof(operation_ids) = 'array'
    )
);

CREATE INDEX incidents_tenant_status_idx ON incidents (tenant, status, created_at DESC);
CREATE INDEX incidents_tenant_severity_idx ON incidents (tenant, severity, created_at DESC);
CREATE INDEX incidents_tenant_created_at_idx ON incidents (tenant, created_at DESC, id DESC);
CREATE INDEX incidents_tenant_resolved_at_idx ON incidents (tenant, resolved_at);
CREATE INDEX incidents_tenant_fingerprint_idx
    ON incidents (tenant, fingerprint, created_at DESC, id DESC);

-- === knowledge_entries (seed 003 knowledge base + anti-patterns) =============

CREATE TABLE knowledge_entries (
    tenant              text        NOT NULL,
    id                  text        NOT NULL,
    title               text        NOT NULL,
    content             text        NOT NULL,
    entry_type          text        NOT NULL,
    category            text        NOT NULL,
    tags                jsonb       NOT NULL,
    source              text        NOT NULL,
    status              text        NOT NULL,
    related_incident_id text,
    related_playbook_id text,
    symptoms_hash       text,
    failed_strategy_id  text,
    view_count          bigint      NOT NULL,
    created_by          text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CONSTRAINT knowledge_entries_pkey PRIMARY KEY (tenant, id),
    CONSTRAINT knowledge_entries_tenant_check CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT knowledge_entries_entry_type_check CHECK (entry_type IN (
        'incident_case', 'runbook', 'best_practice', 'postmortem', 'anti_pattern'
    )),
    CONSTRAINT knowledge_entries_source_check CHECK (source IN ('ai_extracted', 'human')),
    CONSTRAINT knowledge_entries_status_check
        CHECK (status IN ('draft', 'review', 'approved', 'archived')),
    CONSTRAINT knowledge_entries_view_count_check CHECK (view_count >= 0),
    CONSTRAINT knowledge_entries_tags_check CHECK (jsonb_typeof(tags) = 'array')
);

CREATE INDEX knowledge_entries_tenant_entry_type_idx
    ON knowledge_entries (tenant, entry_type, created_at DESC);
CREATE INDEX knowledge_entries_tenant_category_idx ON knowledge_entries (tenant, category);
CREATE INDEX knowledge_entries_tenant_status_idx
    ON knowledge_entries (tenant, status, created_at DESC);
CREATE INDEX knowledge_entries_tenant_created_at_idx
    ON knowledge_entries (tenant, created_at DESC, id DESC);
CREATE INDEX knowledge_entries_tenant_symptoms_hash_idx
    ON knowledge_entries (tenant, symptoms_hash);

-- === healing_operations (seed 004) ===========================================
--
-- The action log is a jsonb array on the operation rather than a child
-- table: it is always read and replaced whole together with the operation
-- (under the revision compare-and-set), it is short (one entry per planned
-- action), and its order is the array's order. Queries across actions are
-- served by the audit log, which records every action as its own row.

CREATE TABLE healing_operations (
    tenant                text        NOT NULL,
    id                    text        NOT NULL,
    strategy_id           text        NOT NULL,
    resource              text        NOT NULL,
    fingerprint           text,
    incident_id           text,
    approval_id           text,
    source_system         text        NOT NULL,
    authorization_channel text        NOT NULL,
    risk                  text        NOT NULL,
    state                 text        NOT NULL,
    diagnosis             jsonb,
    actions_run           jsonb       NOT NULL,
    result                text,
    error                 text,
    failure_class         text,
    attempt_number        bigint      NOT NULL,
    fencing_token         bigint,
    escalated             boolean     NOT NULL,
    dry_run               boolean     NOT NULL,
    revision              bigint      NOT NULL,
    started_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    completed_at          timestamptz,
    CONSTRAINT healing_operations_pkey PRIMARY KEY (tenant, id),
    CONSTRAINT healing_operations_tenant_check
        CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT healing_operations_source_system_check
        CHECK (source_system IN ('failure_watcher', 'decision_manager', 'api')),
    CONSTRAINT healing_operations_authorization_channel_check
        CHECK (authorization_channel IN ('auto_repair', 'decision_manager', 'manual')),
    CONSTRAINT healing_operations_risk_check
        CHECK (risk IN ('low', 'medium', 'high', 'critical')),
    CONSTRAINT healing_operations_state_check CHECK (state IN (
        'IDLE', 'DIAGNOSING', 'HEALING', 'VERIFYING', 'COMPLETED', 'FAILED', 'INTERRUPTED'
    )),
    CONSTRAINT healing_operations_result_check
        CHECK (result IN ('SUCCESS', 'FAILED', 'SKIPPED')),
    CONSTRAINT healing_operations_failure_class_check CHECK (failure_class IN (
        'transient', 'timeout', 'conflict', 'budget_blocked', 'target_gone',
        'invalid_action', 'fatal'
    )),
    CONSTRAINT healing_operations_counts_check CHECK (
        attempt_number >= 0 AND revision >= 0 AND (fencing_token IS NULL OR fencing_token >= 0)
    ),
    CONSTRAINT healing_operations_actions_run_check CHECK (jsonb_typeof(actions_run) = 'array')
);

CREATE INDEX healing_operations_tenant_started_at_idx
    ON healing_operations (tenant, started_at DESC, id DESC);
CREATE INDEX healing_operations_tenant_state_idx
    ON healing_operations (tenant, state, started_at DESC);
CREATE INDEX healing_operations_tenant_strategy_id_idx
    ON healing_operations (tenant, strategy_id, started_at DESC);
CREATE INDEX healing_operations_tenant_resource_idx
    ON healing_operations (tenant, resource, started_at DESC);
CREATE INDEX healing_operations_tenant_fingerprint_idx
    ON healing_operations (tenant, fingerprint);
CREATE INDEX healing_operations_tenant_incident_id_idx
    ON healing_operations (tenant, incident_id);
CREATE INDEX healing_operations_tenant_approval_id_idx
    ON healing_operations (tenant, approval_id);
-- Crash recovery reads only unfinished operations.
CREATE INDEX healing_operations_tenant_unfinished_idx
    ON healing_operations (tenant, started_at, id)
    WHERE state NOT IN ('COMPLETED', 'FAILED', 'INTERRUPTED');

-- === alert_fingerprints (seed 003 strategy B, storm convergence) =============

CREATE TABLE alert_fingerprints (
    tenant             text          NOT NULL,
    fingerprint        text          NOT NULL,
    alertname          text          NOT NULL,
    identity           jsonb         NOT NULL,
    status             text          NOT NULL,
    hit_count          bigint        NOT NULL,
    status_hits        bigint        NOT NULL,
    episode            bigint        NOT NULL,
    episode_started_at timestamptz   NOT NULL,
    -- Start times of recent episodes, oldest first, at most 16.
    recent_firings     timestamptz[] NOT NULL,
    -- The claim on the current episode: all three set, or none.
    claim_kind         text,
    claim_id           text,
    claim_at           timestamptz,
    first_seen_at      timestamptz   NOT NULL,
    last_seen_at       timestamptz   NOT NULL,
    CONSTRAINT alert_fingerprints_pkey PRIMARY KEY (tenant, fingerprint),
    CONSTRAINT alert_fingerprints_tenant_check
        CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT alert_fingerprints_status_check CHECK (status IN ('firing', 'resolved')),
    CONSTRAINT alert_fingerprints_counts_check
        CHECK (hit_count >= 0 AND status_hits >= 0 AND episode >= 0),
    CONSTRAINT alert_fingerprints_claim_check CHECK (
        (claim_kind IS NULL AND claim_id IS NULL AND claim_at IS NULL)
        OR (claim_kind IN ('operation', 'approval') AND claim_id IS NOT NULL
            AND claim_at IS NOT NULL)
    ),
    CONSTRAINT alert_fingerprints_identity_check CHECK (jsonb_typeof(identity) = 'object')
);

CREATE INDEX alert_fingerprints_tenant_last_seen_at_idx
    ON alert_fingerprints (tenant, last_seen_at DESC, fingerprint DESC);

-- === runtime state snapshots =================================================

CREATE TABLE tenant_state (
    tenant     text        NOT NULL,
    snapshot   jsonb       NOT NULL,
    saved_at   timestamptz NOT NULL,
    CONSTRAINT tenant_state_pkey PRIMARY KEY (tenant),
    CONSTRAINT tenant_state_tenant_check CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT tenant_state_snapshot_check CHECK (jsonb_typeof(snapshot) = 'object')
);

-- Platform state is not tenant data: one row, no tenant column, no row-level
-- security. Only the owner and the application role may touch it (0003).
CREATE TABLE platform_state (
    id       text        NOT NULL,
    snapshot jsonb       NOT NULL,
    saved_at timestamptz NOT NULL,
    CONSTRAINT platform_state_pkey PRIMARY KEY (id),
    CONSTRAINT platform_state_singleton_check CHECK (id = 'platform'),
    CONSTRAINT platform_state_snapshot_check CHECK (jsonb_typeof(snapshot) = 'object')
);
