-- Two new kinds of shared safety record (issue 16, policy beyond the
-- peers): `remediation`, a tenant's use of its remediation budgets (runs in
-- flight, starts and pods disrupted per window; a start takes its slot in
-- the same serialized update that checks the budget, so two replicas never
-- both take the last one), and `windows`, the maintenance windows opened
-- through the API. Both are one record per tenant, changed like every other
-- safety record. The new list contains the old one, so every stored row
-- satisfies it.

ALTER TABLE safety_records
    DROP CONSTRAINT safety_records_kind_check,
    ADD CONSTRAINT safety_records_kind_check CHECK (kind IN (
        'switches', 'dormancy', 'backoff', 'ledger', 'breaker', 'remediation', 'windows'
    ));
