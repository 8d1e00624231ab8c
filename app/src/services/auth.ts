import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { InvalidCredentialsError, RefreshTokenReusedError, UnauthenticatedError, ValidationError } from '../domain/errors';
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_LENGTH, normalizeEmail, type Actor, type User } from '../domain/user';
import type {
  AccessTokenClaims,
  AccessTokenCodec,
  AuditLog,
  Clock,
  PasswordHasher,
  RefreshTokenStore,
  SessionStore,
  UserStore,
} from '../ports';
import type { CallContext } from './context';
import { TokenVersions } from './token-versions';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export interface AuthServiceDeps {
  users: UserStore;
  refreshTokens: RefreshTokenStore;
  hasher: PasswordHasher;
  accessTokens: AccessTokenCodec;
  audit: AuditLog;
  clock: Clock;
  refreshTokenTtlMs: number;
  /** Revocation check of access tokens; without it every check reads PostgreSQL. */
  tokenVersions?: TokenVersions;
  /** Logout everywhere. */
  sessions?: SessionStore;
}

/** Refresh tokens are random and stored only as their SHA-256: a database leak yields no usable token. */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function assertPasswordPolicy(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new ValidationError('password too short', [{ path: 'password', message: `must be at least ${MIN_PASSWORD_LENGTH} characters` }]);
  }
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    throw new ValidationError('password too long', [{ path: 'password', message: `must be at most ${MAX_PASSWORD_BYTES} bytes` }]);
  }
}

/** Verified access tokens remembered at most (the least recently used is forgotten first). */
const VERIFIED_MAX_ENTRIES = 10_000;

/** The `exp` claim (epoch seconds) of a token whose signature was just verified; null if it has none. */
function expiryOf(token: string): number | null {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' && Number.isFinite(payload.exp) ? payload.exp : null;
  } catch {
    return null;
  }
}

export class AuthService {
  /** Compared against when the email is unknown, so both paths cost one bcrypt verify. */
  private dummyHash: Promise<string> | undefined;
  private readonly tokenVersions: TokenVersions;
  /**
   * Tokens this process verified, until their `exp`: a signed-in client's next requests skip the
   * HMAC, decoding and claim checks (twice per request: the rate limiter keys on the subject).
   * Keyed by the whole token, signature included, so only that exact string is spared; what can
   * change (the user's token version) is still checked on every request.
   */
  private readonly verified = new LRUCache<string, AccessTokenClaims>({ max: VERIFIED_MAX_ENTRIES, ttlResolution: 0, perf: Date });

  constructor(private readonly deps: AuthServiceDeps) {
    this.tokenVersions = deps.tokenVersions ?? new TokenVersions({ users: deps.users, ttlMs: 0 });
  }

  async register(email: string, password: string): Promise<User> {
    assertPasswordPolicy(password);
    const passwordHash = await this.deps.hasher.hash(password);
    return this.deps.users.create({ email: normalizeEmail(email), passwordHash, role: 'user' });
  }

  async login(email: string, password: string, context: CallContext): Promise<TokenPair> {
    const user = await this.deps.users.findByEmail(normalizeEmail(email));
    this.dummyHash ??= this.deps.hasher.hash(randomUUID());
    // bcrypt reads 72 bytes: a longer password would match a stored one it merely starts with. No
    // stored password is longer (assertPasswordPolicy), so it is wrong, at the cost of a verify all the same.
    const tooLong = Buffer.byteLength(password) > MAX_PASSWORD_BYTES;
    const valid = await this.deps.hasher.verify(password, (!tooLong && user?.passwordHash) || (await this.dummyHash));
    if (!user || !valid || tooLong) {
      await this.deps.audit.record({ actorId: user?.id ?? null, action: 'auth.login_failed', target: normalizeEmail(email), ...context });
      throw new InvalidCredentialsError();
    }
    await this.deps.audit.record({ actorId: user.id, action: 'auth.login', target: user.id, ...context });
    const familyId = randomUUID();
    const refreshToken = this.newRefreshToken();
    // The version is read through the caches meanwhile: the first request with the new token finds it here.
    await Promise.all([
      this.deps.refreshTokens.issue({
        userId: user.id,
        familyId,
        tokenHash: hashRefreshToken(refreshToken),
        expiresAt: this.refreshExpiry(),
      }),
      this.tokenVersions.prime(user.id),
    ]);
    return this.pair(user, refreshToken);
  }

  /**
   * The same tokens `login` issues, for an account another sign-in method vouched for (social
   * sign-in, after its one-time code was redeemed). Role and token version are read now: an
   * account demoted since the sign-in gets its current role; a deleted one gets nothing.
   */
  async issueTokensFor(userId: string): Promise<TokenPair> {
    const user = await this.deps.users.findById(userId);
    if (!user) throw new UnauthenticatedError('the account of this sign-in no longer exists');
    const refreshToken = this.newRefreshToken();
    await Promise.all([
      this.deps.refreshTokens.issue({
        userId: user.id,
        familyId: randomUUID(),
        tokenHash: hashRefreshToken(refreshToken),
        expiresAt: this.refreshExpiry(),
      }),
      this.tokenVersions.prime(user.id),
    ]);
    return this.pair(user, refreshToken);
  }

  async refresh(refreshToken: string, context: CallContext): Promise<TokenPair> {
    const next = this.newRefreshToken();
    const result = await this.deps.refreshTokens.rotate(hashRefreshToken(refreshToken), {
      tokenHash: hashRefreshToken(next),
      expiresAt: this.refreshExpiry(),
    });
    if (result.kind === 'invalid') throw new UnauthenticatedError('invalid or expired refresh token');
    if (result.kind === 'reused') {
      await this.deps.audit.record({ actorId: result.userId, action: 'auth.refresh_reused', target: result.familyId, ...context });
      throw new RefreshTokenReusedError();
    }
    const user = await this.deps.users.findById(result.userId);
    if (!user) throw new UnauthenticatedError('invalid or expired refresh token');
    await this.tokenVersions.prime(user.id);
    return this.pair(user, next);
  }

  /** Always succeeds: whether the token existed is not the caller's business. */
  async logout(refreshToken: string, context: CallContext): Promise<void> {
    const userId = await this.deps.refreshTokens.revokeFamily(hashRefreshToken(refreshToken));
    if (userId) await this.deps.audit.record({ actorId: userId, action: 'auth.logout', target: userId, ...context });
  }

  /**
   * A valid signature is not enough: the token's version must still be the user's, so a role
   * change, logout everywhere or a deleted account ends it before it expires.
   */
  async authenticate(accessToken: string): Promise<Actor> {
    const claims = this.verify(accessToken);
    const current = await this.tokenVersions.current(claims.userId);
    if (current === null || current !== claims.tokenVersion) throw new UnauthenticatedError('access token revoked; sign in again');
    return { userId: claims.userId, role: claims.role };
  }

  /** The codec's verdict, remembered until the token expires (without the codec's clock tolerance). */
  private verify(accessToken: string): AccessTokenClaims {
    const known = this.verified.get(accessToken);
    if (known) return known;
    const claims = this.deps.accessTokens.verify(accessToken);
    const exp = expiryOf(accessToken);
    // Until exp exclusive: lru-cache keeps an entry while its age is at most its TTL.
    const ttl = exp === null ? 0 : Math.floor(exp * 1000 - Date.now()) - 1;
    if (ttl > 0) this.verified.set(accessToken, Object.freeze(claims), { ttl });
    return claims;
  }

  /** Ends every session of the user: refresh tokens revoked, access tokens refused from the next request. */
  async logoutEverywhere(actor: Actor, context: CallContext): Promise<void> {
    if (!this.deps.sessions) throw new Error('logout everywhere needs a session store');
    const version = await this.deps.sessions.revokeAll(actor.userId);
    await this.tokenVersions.changed(actor.userId);
    await this.deps.audit.record({
      actorId: actor.userId,
      action: 'auth.logout_all',
      target: actor.userId,
      details: { tokenVersion: version },
      ...context,
    });
  }

  /**
   * Creates the admin of ADMIN_EMAIL once (replicas starting together create it once). An account
   * that already holds the address is never changed: `not_admin` when it is not an admin (someone
   * registered it first; promoting it would hand admin to whoever set its password).
   */
  async bootstrapAdmin(email: string, password: string): Promise<'created' | 'exists' | 'not_admin'> {
    assertPasswordPolicy(password);
    const address = normalizeEmail(email);
    const existing = await this.deps.users.findByEmail(address);
    if (existing) return existing.role === 'admin' ? 'exists' : 'not_admin';
    const outcome = await this.deps.users.ensureAdmin(address, await this.deps.hasher.hash(password));
    if (outcome === 'exists') return (await this.deps.users.findByEmail(address))?.role === 'admin' ? 'exists' : 'not_admin';
    const admin = await this.deps.users.findByEmail(address);
    await this.deps.audit.record({
      actorId: null,
      action: 'user.admin_bootstrapped',
      target: admin?.id ?? null,
      details: { email: address },
    });
    return outcome;
  }

  private pair(user: { id: string; role: User['role']; tokenVersion: number }, refreshToken: string): TokenPair {
    const access = this.deps.accessTokens.sign({ userId: user.id, role: user.role, tokenVersion: user.tokenVersion });
    return { accessToken: access.token, refreshToken, tokenType: 'Bearer', expiresIn: access.expiresIn };
  }

  private newRefreshToken(): string {
    return randomBytes(32).toString('base64url');
  }

  private refreshExpiry(): Date {
    return new Date(this.deps.clock.now().getTime() + this.deps.refreshTokenTtlMs);
  }
}
