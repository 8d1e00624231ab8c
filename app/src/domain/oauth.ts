/**
 * Social sign-in (OAuth 2.0 / OpenID Connect) rules: which providers exist, which `returnTo` a
 * sign-in may come back to, and when a new identity may join an existing account. Pure: the
 * protocol itself is the client library's (adapters/oauth), the flow the service's (services/oauth).
 */
import { ValidationError } from './errors';

export const OAUTH_PROVIDERS = ['google', 'github'] as const;
export type OAuthProviderName = (typeof OAUTH_PROVIDERS)[number];

export function isOAuthProvider(name: string): name is OAuthProviderName {
  return (OAUTH_PROVIDERS as readonly string[]).includes(name);
}

/** Who the provider says signed in. `email` is whatever the provider returned, verified or not. */
export interface OAuthProfile {
  provider: OAuthProviderName;
  /** The provider's stable user id (`sub` for OpenID Connect, the numeric id for GitHub). */
  subject: string;
  email: string | null;
  /** The provider vouches for the address (Google `email_verified`, GitHub's primary verified one). */
  emailVerified: boolean;
}

/** Login state of one browser between `start` and `callback` (kept server-side, single use). */
export interface OAuthTransaction {
  provider: OAuthProviderName;
  state: string;
  codeVerifier: string;
  /** OpenID providers only. */
  nonce: string | null;
  returnTo: string;
}

export const RETURN_TO_MAX_LENGTH = 512;
export const DEFAULT_RETURN_TO = '/';

/**
 * Characters of an RFC 3986 path and query, nothing else: no scheme can start (the first
 * character is `/`), no authority (`//`), no backslash (browsers read `/\host` as `//host`), no
 * whitespace or control character (browsers drop tabs and newlines, so `/\t/host` is `//host`),
 * no fragment (the one-time code goes there).
 */
const SAFE_PATH = /^\/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/;

/**
 * The `returnTo` a sign-in may redirect to: a relative path on this site, or the root when absent.
 * Anything else is a ValidationError, never "fixed" into something else: an open redirect is impossible.
 */
export function safeReturnTo(value: string | undefined): string {
  if (value === undefined || value === '') return DEFAULT_RETURN_TO;
  const refuse = (why: string) => new ValidationError('invalid returnTo', [{ path: 'query.returnTo', message: why }]);
  if (value.length > RETURN_TO_MAX_LENGTH) throw refuse(`must be at most ${RETURN_TO_MAX_LENGTH} characters`);
  if (!SAFE_PATH.test(value)) throw refuse('must be a relative path on this site, like /events/123');
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    throw refuse('must be a relative path on this site, like /events/123');
  }
  // Percent-encoded tricks: `/%2F%2Fevil.test`, `/%5Cevil.test` are paths to a browser, but a
  // proxy or framework in front may decode them; refuse what would become an authority.
  if (/^[/\\]{2}|\\/.test(decoded) || [...decoded].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f))
    throw refuse('must be a relative path on this site, like /events/123');
  return value;
}

/**
 * Whether a new identity may join the account holding the same address: only when the provider
 * vouches for the address. An unverified one never links (RFC 9700 §4.x; anyone can claim any
 * address at a provider that does not verify it).
 */
export function mayLinkByEmail(profile: OAuthProfile): profile is OAuthProfile & { email: string } {
  return profile.emailVerified && typeof profile.email === 'string' && profile.email.length > 0;
}

/**
 * The address a new account created by social sign-in gets when the provider vouches for none
 * (or the vouched one is another account's): one under `.invalid` (RFC 2606: never resolves, never
 * delivered), unique per identity. An unverified address is never stored as an account's e-mail:
 * a later verified sign-in with it would otherwise join the account of whoever claimed it first.
 */
export function placeholderEmail(provider: OAuthProviderName, subjectDigest: string): string {
  return `${provider}-${subjectDigest}@users.oauth.invalid`;
}
