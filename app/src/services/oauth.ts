/**
 * Social sign-in (issue 19): the authorization code flow with PKCE S256, state and (OpenID) nonce,
 * kept server-side and single use; accounts found by (provider, subject), joined to an existing
 * account only through an address the provider verified; a one-time login code (60 s, single use)
 * in the redirect's fragment, redeemed for the tokens `POST /auth/login` issues. Every sign-in,
 * link, new account and failure is audited. RFC 9700 (OAuth 2.0 Security BCP) is the checklist.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DomainError, EmailTakenError, NotFoundError, OAuthFailedError } from '../domain/errors';
import {
  isOAuthProvider,
  mayLinkByEmail,
  placeholderEmail,
  safeReturnTo,
  type OAuthProfile,
  type OAuthProviderName,
  type OAuthTransaction,
} from '../domain/oauth';
import { normalizeEmail } from '../domain/user';
import type { AuditLog, IdentityProvider, IdentityStore, OneTimeStore, UserStore } from '../ports';
import type { TokenPair } from './auth';
import type { CallContext } from './context';

export const OAUTH_TRANSACTION_TTL_MS = 10 * 60_000;
export const LOGIN_CODE_TTL_MS = 60_000;
const TRANSACTIONS = 'oauth-tx';
const LOGIN_CODES = 'oauth-code';
/** Longest address kept as an account's e-mail (the users table's limit). */
const ACCOUNT_EMAIL_MAX = 254;

export interface OAuthServiceDeps {
  /** The enabled providers (a provider without a client id is absent). */
  providers: ReadonlyMap<OAuthProviderName, IdentityProvider>;
  oneTime: OneTimeStore;
  identities: IdentityStore;
  users: UserStore;
  audit: AuditLog;
  /** After a link bumped the account's token version: its access tokens are refused from the next request. */
  sessionsEnded(userId: string): Promise<void>;
  /** Mints the same token pair a password login gets. */
  issueTokensFor(userId: string): Promise<TokenPair>;
  /** The exact redirect URI registered at the provider for its callback. */
  redirectUri(provider: OAuthProviderName): string;
}

export interface StartedSignIn {
  /** The provider's authorization URL (state, S256 challenge, nonce). */
  location: string;
  /** Binds the browser to its transaction (the cookie value); only its digest is stored. */
  browserHandle: string;
}

/** A random secret: 256 bits, base64url (also a valid PKCE verifier: 43 unreserved characters). */
const secret = () => randomBytes(32).toString('base64url');
const digest = (value: string) => createHash('sha256').update(value).digest('base64url');

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(digest(a));
  const right = Buffer.from(digest(b));
  return timingSafeEqual(left, right);
}

function parseTransaction(raw: string): OAuthTransaction | null {
  try {
    const value = JSON.parse(raw) as Partial<OAuthTransaction>;
    if (typeof value.provider !== 'string' || !isOAuthProvider(value.provider)) return null;
    if (typeof value.state !== 'string' || typeof value.codeVerifier !== 'string' || typeof value.returnTo !== 'string') return null;
    return {
      provider: value.provider,
      state: value.state,
      codeVerifier: value.codeVerifier,
      nonce: typeof value.nonce === 'string' ? value.nonce : null,
      returnTo: value.returnTo,
    };
  } catch {
    return null;
  }
}

export class OAuthService {
  constructor(private readonly deps: OAuthServiceDeps) {}

  /** The provider when it exists and is enabled; otherwise NotFoundError (404: a disabled provider is not there). */
  provider(name: string): IdentityProvider {
    const provider = isOAuthProvider(name) ? this.deps.providers.get(name) : undefined;
    if (!provider) throw new NotFoundError('sign-in provider');
    return provider;
  }

  /** Step 1: a new transaction (state, PKCE verifier, nonce, returnTo) kept for 10 minutes, single use. */
  async start(providerName: string, returnTo: string | undefined): Promise<StartedSignIn> {
    const provider = this.provider(providerName);
    const transaction: OAuthTransaction = {
      provider: provider.name,
      state: secret(),
      codeVerifier: secret(),
      nonce: provider.openId ? secret() : null,
      returnTo: safeReturnTo(returnTo),
    };
    const location = await provider.authorizationUrl({
      state: transaction.state,
      codeVerifier: transaction.codeVerifier,
      nonce: transaction.nonce,
      redirectUri: this.deps.redirectUri(provider.name),
    });
    const browserHandle = secret();
    await this.deps.oneTime.put(TRANSACTIONS, digest(browserHandle), JSON.stringify(transaction), OAUTH_TRANSACTION_TTL_MS);
    return { location: location.href, browserHandle };
  }

  /**
   * Step 2: the provider sent the browser back. The transaction is taken (used up whatever happens
   * next), its state compared with the one in the URL, then the provider's library completes the
   * exchange and validation. Returns where to send the browser: `returnTo#code=<one-time code>`.
   */
  async callback(
    providerName: string,
    browserHandle: string | undefined,
    params: Record<string, string>,
    context: CallContext,
  ): Promise<string> {
    const provider = this.provider(providerName);
    try {
      if (!browserHandle) throw new OAuthFailedError('no sign-in cookie (another browser, or the cookie expired)');
      const raw = await this.deps.oneTime.take(TRANSACTIONS, digest(browserHandle));
      const transaction = raw === null ? null : parseTransaction(raw);
      if (!transaction) throw new OAuthFailedError('unknown, used or expired sign-in transaction');
      if (transaction.provider !== provider.name) throw new OAuthFailedError('the transaction was started for another provider');
      if (!params.state) throw new OAuthFailedError('state missing from the callback');
      if (!sameSecret(params.state, transaction.state)) throw new OAuthFailedError('state does not match the transaction');
      const redirectUri = this.deps.redirectUri(provider.name);
      const callbackUrl = new URL(redirectUri);
      for (const [name, value] of Object.entries(params)) callbackUrl.searchParams.append(name, value);
      const profile = await provider.complete(callbackUrl, {
        state: transaction.state,
        codeVerifier: transaction.codeVerifier,
        nonce: transaction.nonce,
        redirectUri,
      });
      const userId = await this.settle(profile, context);
      const code = secret();
      await this.deps.oneTime.put(LOGIN_CODES, digest(code), userId, LOGIN_CODE_TTL_MS);
      return `${transaction.returnTo}#code=${code}`;
    } catch (error) {
      await this.failed(provider.name, error, context);
      throw error;
    }
  }

  /** Step 3: the one-time code (from the fragment, posted by the page) → the token pair. */
  async exchange(code: string, context: CallContext): Promise<TokenPair> {
    try {
      const userId = await this.deps.oneTime.take(LOGIN_CODES, digest(code));
      if (!userId) throw new OAuthFailedError('unknown, used or expired one-time code');
      const user = await this.deps.users.findById(userId);
      if (!user) throw new OAuthFailedError('the account of this sign-in no longer exists');
      const tokens = await this.deps.issueTokensFor(user.id);
      await this.deps.audit.record({ actorId: user.id, action: 'auth.oauth_login', target: user.id, ...context });
      return tokens;
    } catch (error) {
      await this.failed(null, error, context);
      throw error;
    }
  }

  /** The account of the identity: its own, one holding the verified address, or a new one. */
  private async settle(profile: OAuthProfile, context: CallContext): Promise<string> {
    const audit = (action: string, userId: string, details: Record<string, unknown> = {}) =>
      this.deps.audit.record({
        actorId: userId,
        action,
        target: userId,
        details: { provider: profile.provider, subject: profile.subject, ...details },
        ...context,
      });
    // A concurrent first sign-in of the same identity (or a registration of the same address) wins
    // at most once per round: the next round finds what it created.
    for (let round = 0; round < 3; round += 1) {
      const known = await this.deps.identities.find(profile.provider, profile.subject);
      if (known) {
        await this.deps.identities.touch(profile);
        await audit('auth.oauth_identity_signed_in', known.userId);
        return known.userId;
      }
      const verified = mayLinkByEmail(profile) && profile.email.length <= ACCOUNT_EMAIL_MAX ? normalizeEmail(profile.email) : null;
      if (verified) {
        const holder = await this.deps.users.findByEmail(verified);
        if (holder) {
          const linked = await this.deps.identities.link(profile, holder.id);
          if (linked?.cleared) {
            // The account's address was never proven: the provider's proof wins over whoever set its password.
            await this.deps.sessionsEnded(holder.id);
            await audit('auth.oauth_identity_linked_password_and_sessions_cleared', holder.id, { email: verified, ...linked.cleared });
            return holder.id;
          }
          if (linked) {
            await audit('auth.oauth_identity_linked', holder.id, { email: verified });
            return holder.id;
          }
          continue;
        }
      }
      // Never an unverified address as the account's: see placeholderEmail.
      const email =
        verified ??
        placeholderEmail(
          profile.provider,
          createHash('sha256').update(`${profile.provider}\u0000${profile.subject}`).digest('hex').slice(0, 24),
        );
      try {
        const created = await this.deps.identities.createAccount(
          { ...profile, email: profile.email && profile.email.length <= 320 ? profile.email : null },
          email,
        );
        if (created) {
          await audit('auth.oauth_account_created', created.id, {
            emailVerified: verified !== null,
            ...(profile.email && !verified ? { unverifiedEmail: true } : {}),
          });
          return created.id;
        }
      } catch (error) {
        if (!(error instanceof EmailTakenError)) throw error;
      }
    }
    throw new OAuthFailedError('the identity could not be settled (concurrent sign-ins); try again');
  }

  private async failed(provider: OAuthProviderName | null, error: unknown, context: CallContext): Promise<void> {
    if (!(error instanceof DomainError)) return;
    const reason = error instanceof OAuthFailedError ? error.reason : `${error.code}: ${error.message}`;
    await this.deps.audit
      .record({
        actorId: null,
        action: 'auth.oauth_failed',
        target: provider,
        details: { reason: reason.slice(0, 300), kind: error.code },
        ...context,
      })
      .catch(() => undefined);
  }
}
