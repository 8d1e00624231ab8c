/**
 * Authentication, once per request, in one place: the API router's `authentication` stage reads
 * the Authorization header with the one Bearer parser and asks AuthService (signature, expiry,
 * token version) once; the outcome is carried on the request. The rate limiter keys on its user,
 * the hot-request stage decides with it, and a route that needs a user takes it with
 * `requireActor` (or the failure it recorded: 401). A public route ignores a bad token.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { UnauthenticatedError } from '../domain/errors';
import type { Actor } from '../domain/user';

/** `Authorization: Bearer <token>`: the token's characters (RFC 6750 b64token), at most 4,096. */
const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/;

/** The one Bearer parser: the token, or the reason there is none. */
export function bearerToken(header: string | undefined): { token: string } | { error: UnauthenticatedError } {
  if (header === undefined) return { error: new UnauthenticatedError('sign in: send Authorization: Bearer <access token>') };
  const token = BEARER.exec(header)?.[1];
  return token ? { token } : { error: new UnauthenticatedError('malformed Authorization header') };
}

/** What the authentication stage found: the caller, or why there is none (raised on user routes). */
export type RequestAuth = { actor: Actor; error?: undefined } | { actor: null; error: unknown };

const outcomes = new WeakMap<IncomingMessage, RequestAuth>();

/** Mounted once, at the top of the API router. */
export function authentication(authenticate: (token: string) => Promise<Actor>): RequestHandler {
  return (req, _res, next) => {
    const parsed = bearerToken(req.headers.authorization);
    if ('error' in parsed) {
      outcomes.set(req, { actor: null, error: parsed.error });
      return next();
    }
    authenticate(parsed.token).then(
      (actor) => {
        outcomes.set(req, { actor });
        next();
      },
      (error: unknown) => {
        outcomes.set(req, { actor: null, error });
        next();
      },
    );
  };
}

/** The caller the authentication stage found (null: anonymous, a bad token included). */
export function actorOf(req: IncomingMessage): Actor | null {
  return outcomes.get(req)?.actor ?? null;
}

/** The caller, or the failure the authentication stage met (401, or the token store's outage). */
export function requireActor(req: IncomingMessage): Actor {
  const outcome = outcomes.get(req);
  if (!outcome) throw new Error('authentication stage not mounted in front of this route');
  if (outcome.actor) return outcome.actor;
  throw outcome.error;
}
