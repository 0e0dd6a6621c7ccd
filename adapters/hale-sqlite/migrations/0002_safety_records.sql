-- The shared safety state as versioned records (replaces the whole-state
-- snapshots of `tenant_state` and `platform_state`).
--
-- `safety_epochs` has one row per scope ('*' for the platform, else the
-- tenant id): its epoch grows by one with every update that writes to the
-- scope. A record's `version` is the epoch of the update that last wrote
-- it, so "what changed since epoch e" is `version > e`. `doc` is the serde
-- JSON of the record's value (`{"dormancy": {...}}`, ...).

CREATE TABLE safety_epochs (
    scope TEXT NOT NULL PRIMARY KEY,
    epoch INTEGER NOT NULL CHECK (epoch >= 0),
    CHECK (scope = '*' OR (length(scope) BETWEEN 1 AND 63 AND scope NOT GLOB '*[^a-z0-9_-]*' AND substr(scope, 1, 1) GLOB '[a-z0-9]'))
) STRICT;

CREATE TABLE safety_records (
    scope   TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('switches', 'dormancy', 'backoff', 'ledger', 'breaker')),
    name    TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    doc     TEXT NOT NULL CHECK (json_valid(doc) AND json_type(doc) = 'object'),
    PRIMARY KEY (scope, kind, name)
) STRICT;

CREATE INDEX safety_records_scope_version_idx ON safety_records (scope, version);

-- Carry the old snapshots over as version-1 records, so a switch an
-- operator set off, a dormancy, a latched breaker or a failure streak
-- survives the upgrade.
INSERT INTO safety_records (scope, kind, name, version, doc)
SELECT tenant, 'switches', '', 1,
       json_object('tenant_switches', json(coalesce(doc -> '$.switches', '{}')))
FROM tenant_state;

INSERT INTO safety_records (scope, kind, name, version, doc)
SELECT tenant, 'dormancy', '', 1, json_object('dormancy', json(doc -> '$.dormancy'))
FROM tenant_state WHERE doc -> '$.dormancy' IS NOT NULL;

INSERT INTO safety_records (scope, kind, name, version, doc)
SELECT tenant, 'backoff', '', 1,
       json_object('backoff', json_object(
           'failures', coalesce(doc ->> '$.backoff.failures', 0),
           'next_healing_at', doc ->> '$.next_healing_at'))
FROM tenant_state;

INSERT INTO safety_records (scope, kind, name, version, doc)
SELECT t.tenant, 'ledger', l.key, 1, json_object('ledger', json(l.value))
FROM tenant_state AS t, json_each(t.doc, '$.ledgers') AS l;

INSERT INTO safety_records (scope, kind, name, version, doc)
SELECT t.tenant, 'breaker', b.key, 1,
       json_object('breaker', json_object(
           'consecutive_failures', coalesce(b.value ->> '$.consecutive_failures', 0),
           'permanent', json(b.value -> '$.permanent'),
           'last_failure_at', b.value ->> '$.last_failure_at',
           'last_reset', json(b.value -> '$.last_reset'),
           'resets', 0))
FROM tenant_state AS t, json_each(t.doc, '$.breakers') AS b;

INSERT INTO safety_epochs (scope, epoch) SELECT tenant, 1 FROM tenant_state;

INSERT INTO safety_records (scope, kind, name, version, doc)
SELECT '*', 'switches', '', 1,
       json_object('global_switches', json(coalesce(doc -> '$.switches', '{}')))
FROM platform_state;

INSERT INTO safety_records (scope, kind, name, version, doc)
SELECT '*', 'dormancy', '', 1, json_object('dormancy', json(doc -> '$.dormancy'))
FROM platform_state WHERE doc -> '$.dormancy' IS NOT NULL;

INSERT INTO safety_epochs (scope, epoch) SELECT '*', 1 FROM platform_state;

DROP TABLE tenant_state;
DROP TABLE platform_state;
