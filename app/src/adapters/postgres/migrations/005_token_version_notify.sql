-- Revocation that does not depend on Redis (issue 17, point 4). A role change or a logout
-- everywhere bumps users.token_version; the replica that made it drops the cached version, but a
-- replica cut off from Redis cannot drop the shared copy, and the other replicas kept reading it
-- until CACHE_TOKEN_VERSION_TTL. Every change of a version (and a deleted user) is now announced
-- here, after commit, on the goticket_token_version channel with the user's id: every api replica
-- LISTENs (adapters/postgres/token-version-changes.ts), drops its own copy and the shared one.
CREATE OR REPLACE FUNCTION token_version_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('goticket_token_version', (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER users_token_version_changed
  AFTER UPDATE OF token_version ON users
  FOR EACH ROW WHEN (OLD.token_version IS DISTINCT FROM NEW.token_version)
  EXECUTE FUNCTION token_version_notify();

CREATE TRIGGER users_deleted
  AFTER DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION token_version_notify();
