-- Messaging: outbox wake-ups, per-aggregate ordering support, and the notifier's records.

-- Wakes the relay on insert. NOTIFY serializes committing transactions (they queue on one
-- lock, WAL flush included), which measured 2-3x slower bookings when every insert notified.
-- So: one call per statement (not per row), and only when this statement's rows are the whole
-- visible backlog, i.e. when the relay may be asleep. A relay that just published a non-empty
-- batch looks again before sleeping; a wake-up lost in the narrow race between the two is
-- covered by the relay's polling.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mine bigint;
BEGIN
  SELECT count(*) INTO mine FROM inserted;
  IF (SELECT count(*) FROM (SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT mine + 1) backlog) <= mine THEN
    PERFORM pg_notify('goticket_outbox', '');
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify
  AFTER INSERT ON outbox
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- The relay skips rows whose aggregate still has an earlier unpublished row held by another
-- relay; this index answers that check from the unpublished rows only.
CREATE INDEX outbox_unpublished_aggregate ON outbox (aggregate_id, seq) WHERE published_at IS NULL;

-- One row per booking and notification type, whatever the redeliveries. `claimed_at` is a
-- short lease so two deliveries of the same event at once do not both send the mail.
CREATE TABLE notifications (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  booking_id  uuid NOT NULL,
  type        text NOT NULL CHECK (type IN ('booking.confirmed', 'booking.cancelled', 'booking.expired')),
  message_id  uuid NOT NULL,
  user_id     uuid NOT NULL,
  recipient   text,
  payload     jsonb NOT NULL,
  attempts    integer NOT NULL DEFAULT 1,
  claimed_at  timestamptz,
  sent_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT notifications_booking_type UNIQUE (booking_id, type)
);
CREATE INDEX notifications_unsent ON notifications (created_at) WHERE sent_at IS NULL;
