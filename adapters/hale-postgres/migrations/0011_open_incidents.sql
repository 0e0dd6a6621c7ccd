-- Issue 19: intake reads a fingerprint's open incident for every new
-- episode, unclaimed repeat and first resolve. The only index for that,
-- incidents_tenant_fingerprint_idx, holds every incident the fingerprint
-- ever had: a flapping alert leaves one resolved incident per episode, and
-- proving that none of them is open meant visiting each one's row (the
-- status is not in the index). In the load bench that read was the
-- largest single cost in Postgres (0.84 ms of mean time per delivery, more
-- than half of the statement time; pg_stat_statements, docs/benchmarks.md).
--
-- This partial index holds open incidents only, so the read touches the
-- open incident, if any, and nothing else. An incident enters it when it
-- opens and leaves it when it resolves or closes: a status change already
-- wrote index entries (incidents_tenant_status_idx), so updates that were
-- HOT stay HOT.

CREATE INDEX incidents_open_fingerprint_idx
    ON incidents (tenant, fingerprint, created_at DESC, id DESC)
    WHERE status IN ('investigating', 'mitigating', 'escalated');
