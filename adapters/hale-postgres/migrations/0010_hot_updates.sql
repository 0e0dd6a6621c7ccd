-- Issue 19, durable intake at the speed of the pipe: let the updates every
-- alert makes be HOT (heap-only tuples, no index entries written), and
-- vacuum the two hottest tables before their dead tuples pile up.
--
-- * alert_fingerprints: every delivery updates its row's last_seen_at,
--   which alert_fingerprints_tenant_last_seen_at_idx indexed, so no update
--   of the table could be HOT: each one wrote a new entry into both of its
--   indexes and left a dead one behind. The index served only the listing
--   of a tenant's fingerprints (an operator read, sorted from the primary
--   key's range for the tenant instead). Without it, no column an update
--   changes is indexed.
-- * Both tables keep 30 % (fingerprints) and 20 % (incidents) of each page
--   free, so the new version of a row fits in its own page, which HOT
--   needs. An incident's update changes no indexed column unless its
--   status, severity or resolution changes.
-- * Autovacuum at 2 % (fingerprints) and 5 % (incidents) of dead rows,
--   instead of 20 %, so a storm's dead versions are pruned within minutes.
--
-- Settings apply to pages written from now on; `VACUUM FULL` rewrites old
-- ones if wanted.

DROP INDEX IF EXISTS alert_fingerprints_tenant_last_seen_at_idx;

ALTER TABLE alert_fingerprints SET (
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.05
);

ALTER TABLE incidents SET (
    fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.05
);
