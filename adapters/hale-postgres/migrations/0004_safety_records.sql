-- The shared safety state as versioned records (replaces the whole-state
-- snapshots `tenant_state` and `platform_state`, which replicas overwrote
-- last-writer-wins).
--
-- `safety_epochs` has one row per scope ('*' for the platform, else the
-- tenant id); its epoch grows by one with every update that writes to the
-- scope, and an update holds the scope's row (`FOR UPDATE`) from its read
-- to its commit, so updates of one scope are serialized and none is lost.
-- A record's `version` is the epoch of the update that last wrote it:
-- "what changed since epoch e" is `version > e`, which is all a replica
-- polling the epochs reads. `body` is the serde JSON of the record's value.
--
-- Tenant records are under row-level security like every tenant table.
-- Platform records and the epochs are platform data (no tenant column);
-- the epochs name tenants and count their changes, nothing more.

CREATE TABLE safety_records (
    tenant  text   NOT NULL,
    kind    text   NOT NULL,
    name    text   NOT NULL,
    version bigint NOT NULL,
    body    jsonb  NOT NULL,
    CONSTRAINT safety_records_pkey PRIMARY KEY (tenant, kind, name),
    CONSTRAINT safety_records_tenant_check CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT safety_records_kind_check
        CHECK (kind IN ('switches', 'dormancy', 'backoff', 'ledger', 'breaker')),
    CONSTRAINT safety_records_version_check CHECK (version >= 1),
    CONSTRAINT safety_records_body_check CHECK (jsonb_typeof(body) = 'object')
);

CREATE INDEX safety_records_tenant_version_idx ON safety_records (tenant, version);

CREATE TABLE platform_safety_records (
    kind    text   NOT NULL,
    name    text   NOT NULL,
    version bigint NOT NULL,
    body    jsonb  NOT NULL,
    CONSTRAINT platform_safety_records_pkey PRIMARY KEY (kind, name),
    CONSTRAINT platform_safety_records_kind_check CHECK (kind IN ('switches', 'dormancy')),
    CONSTRAINT platform_safety_records_version_check CHECK (version >= 1),
    CONSTRAINT platform_safety_records_body_check CHECK (jsonb_typeof(body) = 'object')
);

CREATE TABLE safety_epochs (
    scope text   NOT NULL,
    epoch bigint NOT NULL,
    CONSTRAINT safety_epochs_pkey PRIMARY KEY (scope),
    CONSTRAINT safety_epochs_scope_check
        CHECK (scope = '*' OR scope ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT safety_epochs_epoch_check CHECK (epoch >= 0)
);

-- Carry the old snapshots over as version-1 records, so a switch an
-- operator set off, a dormancy, a latched breaker or a failure streak
-- survives the upgrade. The owner reads every tenant's row here.
ALTER TABLE tenant_state NO FORCE ROW LEVEL SECURITY;

INSERT INTO safety_records (tenant, kind, name, version, body)
SELECT tenant, 'switches', '', 1,
       jsonb_build_object('tenant_switches', coalesce(snapshot -> 'switches', '{}'::jsonb))
FROM tenant_state;

INSERT INTO safety_records (tenant, kind, name, version, body)
SELECT tenant, 'dormancy', '', 1, jsonb_build_object('dormancy', snapshot -> 'dormancy')
FROM tenant_state WHERE snapshot ? 'dormancy';

INSERT INTO safety_records (tenant, kind, name, version, body)
SELECT tenant, 'backoff', '', 1,
       jsonb_build_object('backoff', jsonb_build_object(
           'failures', coalesce(snapshot #> '{backoff,failures}', '0'::jsonb),
           'next_healing_at', coalesce(snapshot -> 'next_healing_at', 'null'::jsonb)))
FROM tenant_state;

INSERT INTO safety_records (tenant, kind, name, version, body)
SELECT t.tenant, 'ledger', l.key, 1, jsonb_build_object('ledger', l.value)
FROM tenant_state AS t, jsonb_each(coalesce(t.snapshot -> 'ledgers', '{}'::jsonb)) AS l;

INSERT INTO safety_records (tenant, kind, name, version, body)
SELECT t.tenant, 'breaker', b.key, 1,
       jsonb_build_object('breaker', jsonb_build_object(
           'consecutive_failures', coalesce(b.value -> 'consecutive_failures', '0'::jsonb),
           'permanent', coalesce(b.value -> 'permanent', 'null'::jsonb),
           'last_failure_at', coalesce(b.value -> 'last_failure_at', 'null'::jsonb),
           'last_reset', coalesce(b.value -> 'last_reset', 'null'::jsonb),
           'resets', 0))
FROM tenant_state AS t, jsonb_each(coalesce(t.snapshot -> 'breakers', '{}'::jsonb)) AS b;

INSERT INTO safety_epochs (scope, epoch) SELECT tenant, 1 FROM tenant_state;

INSERT INTO platform_safety_records (kind, name, version, body)
SELECT 'switches', '', 1,
       jsonb_build_object('global_switches', coalesce(snapshot -> 'switches', '{}'::jsonb))
FROM platform_state;

INSERT INTO platform_safety_records (kind, name, version, body)
SELECT 'dormancy', '', 1, jsonb_build_object('dormancy', snapshot -> 'dormancy')
FROM platform_state WHERE snapshot ? 'dormancy';

INSERT INTO safety_epochs (scope, epoch) SELECT '*', 1 FROM platform_state;

DROP TABLE tenant_state;
DROP TABLE platform_state;

-- Row-level security on the tenant records, as on every tenant table (after
-- the import above, which writes every tenant's rows as the owner).
ALTER TABLE safety_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE safety_records FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON safety_records
    USING (tenant = current_setting('hale.tenant', true))
    WITH CHECK (tenant = current_setting('hale.tenant', true));

REVOKE ALL ON safety_records, platform_safety_records, safety_epochs FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON safety_records TO hale_app;
GRANT SELECT, INSERT, UPDATE ON platform_safety_records, safety_epochs TO hale_app;
