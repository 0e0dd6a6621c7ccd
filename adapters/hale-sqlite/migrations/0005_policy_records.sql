-- Two new kinds of shared safety record (issue 16): `remediation` (a
-- tenant's use of its remediation budgets) and `windows` (maintenance
-- windows opened through the API). SQLite cannot change a CHECK in place,
-- so the table is rebuilt with the wider list and its rows copied over.

CREATE TABLE safety_records_new (
    scope   TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('switches', 'dormancy', 'backoff', 'ledger', 'breaker', 'remediation', 'windows')),
    name    TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    doc     TEXT NOT NULL CHECK (json_valid(doc) AND json_type(doc) = 'object'),
    PRIMARY KEY (scope, kind, name)
) STRICT;

INSERT INTO safety_records_new (scope, kind, name, version, doc)
SELECT scope, kind, name, version, doc FROM safety_records;

DROP TABLE safety_records;
ALTER TABLE safety_records_new RENAME TO safety_records;

CREATE INDEX safety_records_scope_version_idx ON safety_records (scope, version);
