-- The bot's own tables: audit trail, call log, SMS. Full phone numbers live here and only
-- here; logs and the Temporal UI get masked ones.
CREATE SCHEMA IF NOT EXISTS bot;

-- Every action on an order, append-only. `event_key` is chosen by the workflow so that a
-- retried activity (worker crash, database outage) lands on the same row instead of a copy.
CREATE TABLE bot.order_audit (
    id            bigserial PRIMARY KEY,
    event_key     text NOT NULL UNIQUE,
    at            timestamptz NOT NULL,               -- when it happened (workflow time)
    recorded_at   timestamptz NOT NULL DEFAULT now(), -- when it reached the database
    call_id       text NOT NULL,
    workflow_id   text NOT NULL,
    event         text NOT NULL,
    order_id      text,
    order_number  text,
    phone         text,
    actor         text NOT NULL CHECK (actor IN ('bot', 'system') OR actor ~ '^operator:.+$'),
    details       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object')
);
CREATE INDEX order_audit_call ON bot.order_audit (call_id, at, id);
CREATE INDEX order_audit_order_number ON bot.order_audit (order_number, at, id)
    WHERE order_number IS NOT NULL;

-- The trail is evidence: nobody (not even the bot's own role) may rewrite or remove it.
CREATE FUNCTION bot.order_audit_is_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'bot.order_audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER order_audit_no_update_delete
    BEFORE UPDATE OR DELETE ON bot.order_audit
    FOR EACH ROW EXECUTE FUNCTION bot.order_audit_is_append_only();
CREATE TRIGGER order_audit_no_truncate
    BEFORE TRUNCATE ON bot.order_audit
    FOR EACH STATEMENT EXECUTE FUNCTION bot.order_audit_is_append_only();

-- One row per call, keyed by the workflow id. Start and end are upserted independently
-- because retries after an outage can deliver them in either order.
CREATE TABLE bot.calls (
    call_id       text PRIMARY KEY,
    caller_phone  text,
    withheld      boolean NOT NULL DEFAULT false,
    started_at    timestamptz,
    ended_at      timestamptz,
    outcome       text,
    last_stage    text,
    order_number  text,
    agent_mode    text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_started_at ON bot.calls (started_at);
CREATE INDEX calls_caller_phone ON bot.calls (caller_phone) WHERE caller_phone IS NOT NULL;

-- Every caller turn. No foreign key to bot.calls: a turn may be written before the call's
-- start record when both are being retried.
CREATE TABLE bot.call_turns (
    call_id      text NOT NULL,
    turn_no      integer NOT NULL CHECK (turn_no >= 0),
    caller_text  text NOT NULL,
    reply_text   text NOT NULL,
    action       text NOT NULL,
    stage        text,
    tools        jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(tools) = 'array'),
    timings      jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(timings) = 'object'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (call_id, turn_no)
);

-- Outgoing SMS, one row per idempotency key, whichever provider sent it: operators look
-- here for what a customer was sent and for messages still waiting on a gateway.
CREATE TABLE bot.sms_messages (
    idempotency_key      text PRIMARY KEY,
    phone                text NOT NULL,
    text                 text NOT NULL,
    status               text NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    provider             text NOT NULL,
    provider_message_id  text,
    attempts             integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error           text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    sent_at              timestamptz,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX sms_messages_pending ON bot.sms_messages (created_at) WHERE status <> 'sent';
