-- Social sign-in (issue 19): identities at external providers, each (provider, subject) once,
-- each joined to one account. An account created by social sign-in has no password.

ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;

CREATE TABLE user_identities (
  provider        text NOT NULL CHECK (provider IN ('google', 'github')),
  -- the provider's stable user id: OpenID `sub`, GitHub's numeric id
  subject         text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- what the provider said at the last sign-in (informational: accounts join only on a verified one)
  email           text CHECK (length(email) <= 320),
  email_verified  boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_sign_in_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);
