-- The notification outbox (issue 17). A notice is written in the
-- transaction of the record that carries it (an approval, an incident, an
-- audit entry); the delivery task routes it to channels (one row per
-- notice and channel in `notice_deliveries`) and delivers each at least
-- once. Replicas claim due deliveries with `FOR UPDATE SKIP LOCKED` and a
-- lease (`claimed_until`), so each is attempted by one replica at a time.
--
-- `tenant` is the owning tenant, or '*' for platform-wide notices (the
-- lock backend, ...). Row-level security applies as on every tenant table:
-- a transaction sees the rows of the `hale.tenant` it set; the store sets
-- '*' to reach the platform's, which matches no tenant (tenant ids cannot
-- contain '*'), so it is no backdoor to every tenant.

CREATE TABLE notices (
    tenant text        NOT NULL,
    id     text        NOT NULL,
    body   jsonb       NOT NULL,
    at     timestamptz NOT NULL,
    routed boolean     NOT NULL DEFAULT false,
    CONSTRAINT notices_pkey PRIMARY KEY (tenant, id),
    CONSTRAINT notices_tenant_check CHECK (tenant = '*' OR tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT notices_body_check CHECK (jsonb_typeof(body) = 'object')
);

CREATE INDEX notices_unrouted_idx ON notices (tenant, at) WHERE NOT routed;

CREATE TABLE notice_deliveries (
    tenant          text        NOT NULL,
    notice_id       text        NOT NULL,
    channel         text        NOT NULL,
    body            jsonb       NOT NULL,
    notice_at       timestamptz NOT NULL,
    pending         boolean     NOT NULL,
    next_attempt_at timestamptz,
    claimed_by      text,
    claimed_until   timestamptz,
    CONSTRAINT notice_deliveries_pkey PRIMARY KEY (tenant, notice_id, channel),
    CONSTRAINT notice_deliveries_notice_fkey FOREIGN KEY (tenant, notice_id)
        REFERENCES notices (tenant, id),
    CONSTRAINT notice_deliveries_body_check CHECK (jsonb_typeof(body) = 'object')
);

CREATE INDEX notice_deliveries_due_idx ON notice_deliveries (tenant, next_attempt_at) WHERE pending;

ALTER TABLE notices ENABLE ROW LEVEL SECURITY;
ALTER TABLE notices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notices
    USING (tenant = current_setting('hale.tenant', true))
    WITH CHECK (tenant = current_setting('hale.tenant', true));

ALTER TABLE notice_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE notice_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notice_deliveries
    USING (tenant = current_setting('hale.tenant', true))
    WITH CHECK (tenant = current_setting('hale.tenant', true));

REVOKE ALL ON notices, notice_deliveries FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON notices, notice_deliveries TO hale_app;
