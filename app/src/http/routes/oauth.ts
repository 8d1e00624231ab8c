/**
 * Social sign-in routes (issue 19; keep these paths: other tooling relies on them):
 *   GET  /auth/oauth/{provider}/start?returnTo=/path  → 302 to the provider, sets the __Host- cookie
 *   GET  /auth/oauth/{provider}/callback?code&state   → 302 to returnTo#code=<one-time code>
 *   POST /auth/oauth/exchange {"code"}                → the token pair of POST /auth/login
 * Self-contained: the flow is OAuthService's; this module only speaks HTTP (cookie, redirects,
 * the per-IP limit). Tokens never travel in a query string or a Location header; the one-time
 * code is in the fragment (never sent to a server, never in a Referer) and lives 60 s.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { RateLimitedError } from '../../domain/errors';
import { OAUTH_PROVIDERS, RETURN_TO_MAX_LENGTH } from '../../domain/oauth';
import { rateLimited } from '../../observability/metrics';
import type { RateLimiter } from '../../ports';
import { OAUTH_TRANSACTION_TTL_MS, type OAuthService } from '../../services/oauth';
import { rateLimitHeaders } from '../rate-limit';
import { route, type RouteSpec } from '../route';
import { TokenPairJson } from '../schemas';
import { callContext } from './context';

/**
 * `__Host-`: only ever set by this host over https, Path=/, no Domain (a sibling subdomain cannot
 * plant or read it). HttpOnly: no script reads it. SameSite=Lax: sent on the provider's top-level
 * redirect back, not on cross-site subrequests.
 */
export const OAUTH_COOKIE = '__Host-goticket_oauth';
const COOKIE_ATTRIBUTES = 'Path=/; Secure; HttpOnly; SameSite=Lax';

const ProviderParams = z.strictObject({
  provider: z.enum(OAUTH_PROVIDERS).meta({ description: 'The identity provider; one that is not configured answers 404' }),
});

const StartQuery = z.strictObject({
  returnTo: z
    .string()
    .max(RETURN_TO_MAX_LENGTH)
    .regex(/^\/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/, 'must be a relative path on this site, like /events/123')
    .optional()
    .meta({
      description:
        'Relative path on this site to come back to (default `/`); a scheme, `//host`, a backslash or whitespace is refused (400)',
      example: '/events',
    }),
});

/** Printable ASCII (what providers send: Google's codes hold `/`); the client library checks the values. */
const param = (description: string, spaces = false) =>
  z
    .string()
    .max(2048)
    .regex(spaces ? /^[\x20-\x7e]*$/ : /^[\x21-\x7e]*$/, 'must be printable ASCII')
    .optional()
    .meta({ description });
/** What a provider may send back (RFC 6749 §4.1.2, RFC 9207 `iss`); other parameters pass to the client library untouched. */
const CallbackQuery = z.looseObject({
  code: param('Authorization code'),
  state: param('The state of the sign-in transaction'),
  iss: param('Issuer identifier (RFC 9207)'),
  error: param('Error code when the provider did not authorize (e.g. `access_denied`)'),
  error_description: param('Human-readable error text from the provider', true),
});

const ExchangeBody = z
  .strictObject({
    code: z
      .string()
      .length(43)
      .regex(/^[A-Za-z0-9_-]{43}$/, 'must be the 43-character code of the callback')
      .meta({ description: "The one-time code from the callback redirect's fragment (`#code=…`)" }),
  })
  .meta({ example: { code: 'q0Vb3mZ8cJtX1yL4nE7sR2uW9dA6fK5hG0pC3vB8iTo' } });

const problem = (description: string) => ({ description });

/** The value of one cookie of the request, if present. */
function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const separator = part.indexOf('=');
    if (separator > 0 && part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}

/** Per client IP, start + callback + exchange together; a refusal is 429 problem+json with Retry-After. */
async function limit(limiter: RateLimiter | null, req: Request, res: Response): Promise<void> {
  if (!limiter) return;
  const verdict = await limiter.consume(req.ip ?? req.socket.remoteAddress ?? 'unknown');
  for (const [name, value] of rateLimitHeaders(limiter.policy, verdict)) res.setHeader(name, value);
  if (!verdict.allowed) {
    rateLimited.inc({ limiter: 'oauth' });
    throw new RateLimitedError(Math.max(1, Math.ceil(verdict.resetMs / 1000)));
  }
}

const NO_STORE = { 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' };

export function oauthRoutes(oauth: OAuthService, limiter: RateLimiter | null): RouteSpec[] {
  return [
    route({
      method: 'get',
      path: '/auth/oauth/:provider/start',
      summary:
        'Start a social sign-in: redirects (302) to the provider with state, PKCE S256 and (OpenID) a nonce, and sets the short-lived __Host- sign-in cookie',
      tags: ['auth'],
      auth: 'public',
      params: ProviderParams,
      query: StartQuery,
      responses: {
        302: {
          description: "To the provider's authorization endpoint (Location); Set-Cookie binds this browser to the sign-in for 10 minutes",
        },
        400: problem('Invalid provider or returnTo (not a relative path on this site)'),
        404: problem('The provider is not configured'),
        503: problem('The provider (its discovery document) or the sign-in store cannot answer within the deadline'),
      },
      async handler({ params, query, req, res }) {
        await limit(limiter, req, res);
        const started = await oauth.start(params.provider, query.returnTo);
        return {
          status: 302,
          headers: {
            ...NO_STORE,
            Location: started.location,
            'Set-Cookie': `${OAUTH_COOKIE}=${started.browserHandle}; Max-Age=${OAUTH_TRANSACTION_TTL_MS / 1000}; ${COOKIE_ATTRIBUTES}`,
          },
        };
      },
    }),
    route({
      method: 'get',
      path: '/auth/oauth/:provider/callback',
      summary:
        'Where the provider sends the browser back: checks state and cookie, redeems the code, validates the identity, then redirects (302) to returnTo with a one-time login code in the fragment',
      tags: ['auth'],
      auth: 'public',
      params: ProviderParams,
      query: CallbackQuery,
      responses: {
        302: { description: 'To `returnTo#code=<one-time code>` (60 s, single use; redeem it with POST /auth/oauth/exchange)' },
        401: problem('Sign-in failed: state missing, mismatched or used; another browser; code refused; ID token invalid; consent denied'),
        404: problem('The provider is not configured'),
        502: problem('The provider answered outside its protocol'),
        503: problem('The provider cannot answer within the deadline'),
      },
      async handler({ params, query, req, res }) {
        // The cookie is spent whatever happens: a retry starts a new sign-in.
        res.append('Set-Cookie', `${OAUTH_COOKIE}=; Max-Age=0; ${COOKIE_ATTRIBUTES}`);
        for (const [name, value] of Object.entries(NO_STORE)) res.setHeader(name, value);
        await limit(limiter, req, res);
        const values = Object.fromEntries(Object.entries(query).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
        const location = await oauth.callback(params.provider, cookie(req, OAUTH_COOKIE), values, callContext(req));
        return { status: 302, headers: { Location: location } };
      },
    }),
    route({
      method: 'post',
      path: '/auth/oauth/exchange',
      summary: 'Redeem the one-time login code of a social sign-in for tokens (the same answer as POST /auth/login)',
      tags: ['auth'],
      auth: 'public',
      body: ExchangeBody,
      responses: {
        200: { description: 'Tokens', schema: TokenPairJson },
        401: problem('Unknown, used or expired code, or the account is gone'),
      },
      async handler({ body, req, res }) {
        await limit(limiter, req, res);
        return { status: 200, headers: { 'Cache-Control': 'no-store' }, body: await oauth.exchange(body.code, callContext(req)) };
      },
    }),
  ];
}
