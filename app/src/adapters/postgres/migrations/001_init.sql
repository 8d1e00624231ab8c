-- GoTicket schema v1: users, events, bookings, outbox, refresh tokens, audit log.

CREATE TABLE users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  password_hash text NOT NULL,
  role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'organizer', 'admin')),
  -- bumped on role change / logout-everywhere so access tokens minted before stop working
  token_version integer NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
-- emails are unique whatever their case
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE events (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organizer_id uuid NOT NULL REFERENCES users (id),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description  text NOT NULL DEFAULT '',
  venue        text NOT NULL DEFAULT '',
  starts_at    timestamptz NOT NULL,
  ends_at      timestamptz NOT NULL,
  price_cents  bigint NOT NULL CHECK (price_cents >= 0),
  currency     char(3) NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
  capacity     integer NOT NULL CHECK (capacity > 0),
  available    integer NOT NULL,
  -- soft delete keeps the booking history and the audit trail intact
  deleted_at   timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_available_within_capacity CHECK (available >= 0 AND available <= capacity),
  CONSTRAINT events_ends_after_start CHECK (ends_at > starts_at)
);
CREATE INDEX events_listing ON events (starts_at, id) WHERE deleted_at IS NULL;
CREATE INDEX events_organizer ON events (organizer_id);

CREATE TABLE bookings (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id        uuid NOT NULL REFERENCES events (id),
  user_id         uuid NOT NULL REFERENCES users (id),
  quantity        integer NOT NULL CHECK (quantity BETWEEN 1 AND 10),
  amount_cents    bigint NOT NULL CHECK (amount_cents >= 0),
  status          text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'confirmed', 'cancelled', 'expired')),
  expires_at      timestamptz NOT NULL,
  idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  -- fingerprint of the request body that first used the key: a different body is a 422
  request_hash    text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX bookings_user_idempotency_key ON bookings (user_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX bookings_user_listing ON bookings (user_id, created_at DESC, id DESC);
CREATE INDEX bookings_listing ON bookings (created_at DESC, id DESC);
CREATE INDEX bookings_pending_expiry ON bookings (expires_at) WHERE status = 'pending';
CREATE INDEX bookings_event_active ON bookings (event_id) WHERE status IN ('pending', 'confirmed');

-- Transactional outbox: every state change writes its domain event here in the same transaction.
CREATE TABLE outbox (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- commit-independent order of insertion, used to publish one aggregate's events in order
  seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  aggregate_type text NOT NULL,
  aggregate_id   uuid NOT NULL,
  type           text NOT NULL,
  payload        jsonb NOT NULL,
  -- propagation headers (trace context) carried to the message
  headers        jsonb NOT NULL DEFAULT '{}'::jsonb,
  occurred_at    timestamptz NOT NULL DEFAULT now(),
  published_at   timestamptz,
  attempts       integer NOT NULL DEFAULT 0,
  last_error     text
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE TABLE refresh_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- every token rotated from one login shares a family; reuse of a rotated token revokes it whole
  family_id   uuid NOT NULL,
  token_hash  text NOT NULL UNIQUE,
  expires_at  timestamptz NOT NULL,
  rotated_at  timestamptz,
  revoked_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE audit_log (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  actor_id   uuid,
  action     text NOT NULL,
  target     text,
  ip         text,
  request_id text,
  details    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
