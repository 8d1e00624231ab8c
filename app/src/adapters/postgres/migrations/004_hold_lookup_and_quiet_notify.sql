-- A refused booking asks when held seats may come back (PostgresHoldSchedule: the earliest
-- expires_at of the event's pending bookings). bookings_event_active indexes every pending and
-- confirmed booking of the event, so that lookup visited all of them; this one answers it from
-- the first entry.
CREATE INDEX bookings_event_pending_expiry ON bookings (event_id, expires_at) WHERE status = 'pending';

-- A booking statement that granted nothing (a sell-out batch) still fires the statement trigger
-- with an empty transition table; with an empty backlog the old check then notified for nothing.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mine bigint;
BEGIN
  SELECT count(*) INTO mine FROM inserted;
  IF mine > 0 AND (SELECT count(*) FROM (SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT mine + 1) backlog) <= mine THEN
    PERFORM pg_notify('goticket_outbox', '');
  END IF;
  RETURN NULL;
END;
$$;
