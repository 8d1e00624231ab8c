/**
 * The identity providers behind the IdentityProvider port, spoken to through `openid-client`
 * (panva; OpenID Certified): discovery, PKCE S256, state and nonce checks, the code exchange and
 * the ID token validation (issuer, audience, expiry, nonce, and the signature against the
 * provider's JWKS) are the library's. Nothing here parses or verifies a JWT by hand.
 *
 * - Google (or any OpenID provider at OAUTH_GOOGLE_ISSUER): OpenID discovery, `openid email` scope.
 * - GitHub: plain OAuth 2.0 (GitHub issues no ID token), endpoints from OAUTH_GITHUB_BASE_URL,
 *   then its REST API (`/user`, `/user/emails`, from OAUTH_GITHUB_API_URL) through the same library.
 *
 * Every call has a deadline (`timeoutMs`, each HTTP request and the operation as a whole):
 * unreachable or too slow → ServiceUnavailableError (503); an answer outside the protocol →
 * ProviderFailedError (502); a refusal or anything that does not validate → OAuthFailedError (401).
 */
import * as client from 'openid-client';
import { DomainError, OAuthFailedError, ProviderFailedError, ServiceUnavailableError } from '../../domain/errors';
import type { OAuthProfile, OAuthProviderName } from '../../domain/oauth';
import type { AuthorizationChecks, AuthorizationRequest, IdentityProvider } from '../../ports';

export interface ProviderClient {
  clientId: string;
  clientSecret: string;
  /** Deadline of each request to the provider and of each operation as a whole. */
  timeoutMs: number;
}

/** Library error codes meaning "the provider's answer is not its protocol" (rather than "it refused"). */
const MALFORMED = new Set([
  'OAUTH_RESPONSE_IS_NOT_JSON',
  'OAUTH_PARSE_ERROR',
  'OAUTH_RESPONSE_IS_NOT_CONFORM',
  'OAUTH_INVALID_SERVER_METADATA',
  'OAUTH_MISSING_SERVER_METADATA',
]);
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current !== undefined && current !== null && chain.length < 8; current = (current as { cause?: unknown }).cause)
    chain.push(current);
  return chain;
}

/** The port's error for whatever the library (or the network under it) threw. */
export function classifyProviderError(provider: string, error: unknown): DomainError {
  if (error instanceof DomainError) return error;
  const dependency = `identity provider ${provider}`;
  const chain = causes(error);
  const codeOf = (e: unknown) => (e as { code?: unknown }).code;
  const nameOf = (e: unknown) => (e as { name?: unknown }).name;
  if (chain.some((e) => codeOf(e) === 'OAUTH_TIMEOUT' || nameOf(e) === 'TimeoutError')) {
    return new ServiceUnavailableError(dependency, 'timeout', 5, { cause: error });
  }
  if (chain.some((e) => NETWORK.has(String(codeOf(e))) || (e instanceof TypeError && e.message === 'fetch failed'))) {
    return new ServiceUnavailableError(dependency, 'unreachable', 5, { cause: error });
  }
  if (error instanceof client.AuthorizationResponseError) return new OAuthFailedError(`provider answered ${error.error}`);
  if (error instanceof client.ResponseBodyError) {
    return error.status >= 500
      ? new ProviderFailedError(provider, `HTTP ${error.status} ${error.error}`, { cause: error })
      : new OAuthFailedError(`token endpoint answered ${error.error}`);
  }
  if (error instanceof client.WWWAuthenticateChallengeError)
    return new OAuthFailedError(`provider refused the token (HTTP ${error.status})`);
  const coded = chain.find((e) => typeof codeOf(e) === 'string') as { code: string; message?: string } | undefined;
  // The innermost message says what failed (`JWT signature verification failed`, `unexpected "nonce" claim value`).
  const detail =
    chain
      .map((e) => (e instanceof Error ? e.message : ''))
      .filter(Boolean)
      .slice(-1)[0] ?? 'unexpected failure';
  if (coded && MALFORMED.has(coded.code)) return new ProviderFailedError(provider, coded.code, { cause: error });
  return new OAuthFailedError(coded ? `${coded.code}: ${detail}` : detail);
}

/** Runs `operation` with the deadline, classifying its failures. */
async function guarded<T>(provider: string, timeoutMs: number, operation: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ServiceUnavailableError(`identity provider ${provider}`, 'timeout')), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([operation(), deadline]);
  } catch (error) {
    throw classifyProviderError(provider, error);
  } finally {
    clearTimeout(timer);
  }
}

/** Plain http is accepted only where config allowed it (loopback test servers; never in production). */
function transport(url: URL): Array<(config: client.Configuration) => void> {
  return url.protocol === 'http:' ? [client.allowInsecureRequests] : [];
}

/** An OpenID Connect provider found by discovery: Google in production, oidc-provider in tests. */
export class OpenIdConnectProvider implements IdentityProvider {
  readonly openId = true;
  private configuration: Promise<client.Configuration> | null = null;

  constructor(
    readonly name: OAuthProviderName,
    private readonly issuer: URL,
    private readonly options: ProviderClient,
  ) {}

  /** Discovery once, lazily (a provider down at startup does not stop the service); retried after a failure. */
  private config(): Promise<client.Configuration> {
    this.configuration ??= client
      .discovery(
        this.issuer,
        this.options.clientId,
        { client_secret: this.options.clientSecret, id_token_signed_response_alg: 'RS256' },
        client.ClientSecretPost(this.options.clientSecret),
        {
          timeout: this.options.timeoutMs / 1000,
          // The ID token's signature is checked against the provider's JWKS too, not only its claims.
          execute: [...transport(this.issuer), client.enableNonRepudiationChecks],
        },
      )
      .catch((error: unknown) => {
        this.configuration = null;
        throw error;
      });
    return this.configuration;
  }

  authorizationUrl(request: AuthorizationRequest): Promise<URL> {
    return guarded(this.name, this.options.timeoutMs, async () =>
      client.buildAuthorizationUrl(await this.config(), {
        response_type: 'code',
        redirect_uri: request.redirectUri,
        scope: 'openid email',
        state: request.state,
        nonce: request.nonce ?? '',
        code_challenge: await client.calculatePKCECodeChallenge(request.codeVerifier),
        code_challenge_method: 'S256',
      }),
    );
  }

  complete(callbackUrl: URL, checks: AuthorizationChecks): Promise<OAuthProfile> {
    return guarded(this.name, this.options.timeoutMs, async () => {
      if (!checks.nonce) throw new OAuthFailedError('no nonce kept for an OpenID sign-in');
      const tokens = await client.authorizationCodeGrant(await this.config(), callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) throw new OAuthFailedError('no ID token in the token response');
      const email = typeof claims.email === 'string' ? claims.email : null;
      return { provider: this.name, subject: claims.sub, email, emailVerified: email !== null && claims.email_verified === true };
    });
  }
}

export interface GitHubEndpoints {
  /** https://github.com, or a GitHub Enterprise host: /login/oauth/authorize and /login/oauth/access_token. */
  baseUrl: URL;
  /** https://api.github.com (Enterprise: https://HOST/api/v3): /user and /user/emails. */
  apiUrl: URL;
}

interface GitHubUser {
  id?: unknown;
}

interface GitHubEmail {
  email?: unknown;
  primary?: unknown;
  verified?: unknown;
}

const below = (base: URL, path: string) => new URL(path.replace(/^\//, ''), base.href.endsWith('/') ? base : new URL(`${base.href}/`));

/** GitHub's OAuth app flow (OAuth 2.0 with PKCE; no ID token), then its user and e-mail APIs. */
export class GitHubProvider implements IdentityProvider {
  readonly name = 'github' as const;
  readonly openId = false;
  private readonly configuration: client.Configuration;

  constructor(
    private readonly endpoints: GitHubEndpoints,
    private readonly options: ProviderClient,
  ) {
    this.configuration = new client.Configuration(
      {
        issuer: endpoints.baseUrl.href,
        authorization_endpoint: below(endpoints.baseUrl, 'login/oauth/authorize').href,
        token_endpoint: below(endpoints.baseUrl, 'login/oauth/access_token').href,
      },
      options.clientId,
      options.clientSecret,
      client.ClientSecretPost(options.clientSecret),
    );
    this.configuration.timeout = options.timeoutMs / 1000;
    for (const apply of transport(endpoints.baseUrl)) apply(this.configuration);
  }

  async authorizationUrl(request: AuthorizationRequest): Promise<URL> {
    return client.buildAuthorizationUrl(this.configuration, {
      redirect_uri: request.redirectUri,
      // read:user for the id, user:email for the addresses and whether GitHub verified them
      scope: 'read:user user:email',
      state: request.state,
      code_challenge: await client.calculatePKCECodeChallenge(request.codeVerifier),
      code_challenge_method: 'S256',
      allow_signup: 'true',
    });
  }

  complete(callbackUrl: URL, checks: AuthorizationChecks): Promise<OAuthProfile> {
    return guarded(this.name, this.options.timeoutMs, async () => {
      const tokens = await client.authorizationCodeGrant(this.configuration, callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
      });
      const user = await this.api<GitHubUser>(tokens.access_token, 'user');
      const emails = await this.api<GitHubEmail[]>(tokens.access_token, 'user/emails');
      if ((typeof user.id !== 'number' && typeof user.id !== 'string') || String(user.id).length === 0)
        throw new ProviderFailedError(this.name, '/user without an id');
      if (!Array.isArray(emails)) throw new ProviderFailedError(this.name, '/user/emails is not a list');
      // Only the primary address, and only when GitHub verified it: never a secondary one.
      const primary = emails.find((entry) => entry.primary === true && typeof entry.email === 'string');
      const email = primary ? String(primary.email) : null;
      return { provider: this.name, subject: String(user.id), email, emailVerified: primary?.verified === true };
    });
  }

  private async api<T>(accessToken: string, path: string): Promise<T> {
    const headers = new Headers({ accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' });
    const response = await client.fetchProtectedResource(
      this.configuration,
      accessToken,
      below(this.endpoints.apiUrl, path),
      'GET',
      undefined,
      headers,
    );
    if (response.status === 401 || response.status === 403) throw new OAuthFailedError(`GitHub API ${path} answered ${response.status}`);
    if (!response.ok) throw new ProviderFailedError(this.name, `GitHub API ${path} answered ${response.status}`);
    try {
      return (await response.json()) as T;
    } catch (error) {
      throw new ProviderFailedError(this.name, `GitHub API ${path} answered no JSON`, { cause: error });
    }
  }
}
