-- The payments service's own schema (issue 20). Only the payments role reads or writes it; in
-- production it connects as its own database role, granted this schema and nothing of the booking
-- tables. It learns about bookings only from broker messages (payment.requested, refund.requested).

-- One payment per booking: the booking id is also the provider's Idempotency-Key, so a retry, a
-- redelivery or the reconciliation job can never create a second charge.
CREATE TABLE payments.payments (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  booking_id     uuid NOT NULL,
  user_id        uuid NOT NULL,
  amount_cents   bigint NOT NULL CHECK (amount_cents > 0),
  currency       char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  payment_method text NOT NULL,
  -- processing: asked the provider (or about to); succeeded/failed: the provider's answer;
  -- refunding: a refund was asked for; refunded: the provider confirmed it
  status         text NOT NULL DEFAULT 'processing'
                 CHECK (status IN ('processing', 'succeeded', 'failed', 'refunding', 'refunded')),
  intent_id      text,
  failure_reason text,
  refund_id      text,
  refund_reason  text,
  attempts       integer NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  settled_at     timestamptz,
  refunded_at    timestamptz,
  CONSTRAINT payments_booking UNIQUE (booking_id),
  CONSTRAINT payments_intent UNIQUE (intent_id),
  CONSTRAINT payments_refund UNIQUE (refund_id)
);
-- The reconciliation job's work list.
CREATE INDEX payments_unsettled ON payments.payments (updated_at) WHERE status IN ('processing', 'refunding');

-- Inbox: broker message ids and webhook event ids whose effect is done (a replay is a no-op).
CREATE TABLE payments.inbox (
  message_id   text PRIMARY KEY,
  source       text NOT NULL CHECK (source IN ('broker', 'webhook')),
  type         text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now()
);

-- The payments service's own outbox (payment.succeeded, payment.failed, refund.succeeded), the
-- same shape as the booking side's so the same relay publishes it.
CREATE TABLE payments.outbox (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  aggregate_type text NOT NULL,
  aggregate_id   uuid NOT NULL,
  type           text NOT NULL,
  payload        jsonb NOT NULL,
  headers        jsonb NOT NULL DEFAULT '{}'::jsonb,
  occurred_at    timestamptz NOT NULL DEFAULT now(),
  published_at   timestamptz,
  attempts       integer NOT NULL DEFAULT 0,
  last_error     text
);
CREATE INDEX outbox_unpublished ON payments.outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON payments.outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX outbox_unpublished_aggregate ON payments.outbox (aggregate_id, seq) WHERE published_at IS NULL;

CREATE FUNCTION payments.outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted) THEN
    PERFORM pg_notify('goticket_payments_outbox', '');
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify
  AFTER INSERT ON payments.outbox
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION payments.outbox_notify();
