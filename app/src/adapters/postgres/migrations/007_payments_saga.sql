-- Payments saga, booking side (issue 20). The status list and every status guard of the stores
-- come from app/src/domain/booking.ts (BOOKING_STATUSES, BOOKING_TRANSITIONS); a test checks this
-- CHECK against it. The payments service's own tables live in schema `payments` with their own
-- migrations (app/src/payments/migrations); nothing here reads or writes them.

ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
  CHECK (status IN ('pending', 'payment_pending', 'confirmed', 'payment_failed', 'cancelled', 'expired', 'refunded'));

-- What the saga knows of the money: the payment method the owner paid with, the fingerprint of
-- the pay request (Idempotency-Key + method: a replay returns the booking, another key is a 409),
-- the provider's payment id once the payment succeeded (one payment per booking, one booking per
-- payment), and the refund once asked for and once done.
ALTER TABLE bookings
  ADD COLUMN payment_method       text CHECK (length(payment_method) BETWEEN 4 AND 123),
  ADD COLUMN pay_request_hash     text,
  ADD COLUMN payment_requested_at timestamptz,
  ADD COLUMN payment_id           text CHECK (length(payment_id) BETWEEN 1 AND 255),
  ADD COLUMN paid_at              timestamptz,
  ADD COLUMN refund_requested_at  timestamptz,
  ADD COLUMN refunded_at          timestamptz,
  ADD COLUMN failure_reason       text;
CREATE UNIQUE INDEX bookings_payment_id ON bookings (payment_id) WHERE payment_id IS NOT NULL;

-- A payment in flight holds its seats and lapses like a pending hold (at its extended expiry).
DROP INDEX bookings_pending_expiry;
CREATE INDEX bookings_lapsing_expiry ON bookings (expires_at) WHERE status IN ('pending', 'payment_pending');
DROP INDEX bookings_event_pending_expiry;
CREATE INDEX bookings_event_lapsing_expiry ON bookings (event_id, expires_at) WHERE status IN ('pending', 'payment_pending');
DROP INDEX bookings_event_active;
CREATE INDEX bookings_event_active ON bookings (event_id) WHERE status IN ('pending', 'payment_pending', 'confirmed');

-- Inbox: ids of the payments service's messages (payment.succeeded, payment.failed,
-- refund.succeeded) whose effect is committed; the effect and the id commit together, so a
-- redelivery is a no-op.
CREATE TABLE inbox (
  message_id   uuid PRIMARY KEY,
  type         text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_processed_at ON inbox (processed_at);

-- Notifications the saga adds: payment failed (seats released) and refunded.
ALTER TABLE notifications DROP CONSTRAINT notifications_type_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_type_check
  CHECK (type IN ('booking.confirmed', 'booking.cancelled', 'booking.expired', 'booking.payment_failed', 'booking.refunded'));

-- The database refuses any status change the domain's state machine does not have, whichever
-- statement makes it. This table is a copy of BOOKING_TRANSITIONS (domain/booking.ts); the
-- migrations test compares every (from, to) pair of the two, so they cannot drift apart.
CREATE TABLE booking_transitions (
  from_status text NOT NULL,
  to_status   text NOT NULL,
  PRIMARY KEY (from_status, to_status)
);
INSERT INTO booking_transitions (from_status, to_status) VALUES
  ('pending', 'payment_pending'), ('pending', 'confirmed'), ('pending', 'cancelled'), ('pending', 'expired'),
  ('payment_pending', 'confirmed'), ('payment_pending', 'payment_failed'), ('payment_pending', 'cancelled'), ('payment_pending', 'expired'),
  ('confirmed', 'cancelled'),
  ('cancelled', 'refunded'),
  ('expired', 'refunded');

CREATE FUNCTION bookings_enforce_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM booking_transitions WHERE from_status = OLD.status AND to_status = NEW.status) THEN
    RAISE EXCEPTION 'booking % cannot go from % to %', OLD.id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_transition';
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER bookings_enforce_transition
  BEFORE UPDATE OF status ON bookings
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION bookings_enforce_transition();
