-- The notification outbox (issue 17). A notice is written in the
-- transaction of the record that carries it (an approval, an incident, an
-- audit entry); the delivery task routes it to channels (one row per
-- notice and channel in `notice_deliveries`) and delivers each at least
-- once. `scope` is the tenant, or '*' for platform-wide notices.

CREATE TABLE notices (
    scope  text    NOT NULL,
    id     text    NOT NULL,
    doc    text    NOT NULL,
    at     text    NOT NULL,
    routed integer NOT NULL DEFAULT 0,
    CONSTRAINT notices_pkey PRIMARY KEY (scope, id),
    CONSTRAINT notices_doc_check CHECK (json_valid(doc)),
    CONSTRAINT notices_routed_check CHECK (routed IN (0, 1))
);

CREATE INDEX notices_unrouted_idx ON notices (scope, routed, at);

CREATE TABLE notice_deliveries (
    scope           text    NOT NULL,
    notice_id       text    NOT NULL,
    channel         text    NOT NULL,
    doc             text    NOT NULL,
    notice_at       text    NOT NULL,
    pending         integer NOT NULL,
    next_attempt_at text,
    claimed_by      text,
    claimed_until   text,
    CONSTRAINT notice_deliveries_pkey PRIMARY KEY (scope, notice_id, channel),
    CONSTRAINT notice_deliveries_doc_check CHECK (json_valid(doc)),
    CONSTRAINT notice_deliveries_pending_check CHECK (pending IN (0, 1))
);

CREATE INDEX notice_deliveries_due_idx ON notice_deliveries (scope, pending, next_attempt_at);
