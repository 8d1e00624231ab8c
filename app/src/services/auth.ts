import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { InvalidCredentialsError, RefreshTokenReusedError, UnauthenticatedError, ValidationError } from '../domain/errors';
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_LENGTH, normalizeEmail, type Actor, type User } from '../domain/user';
import type { AccessTokenCodec, AuditLog, Clock, PasswordHasher, RefreshTokenStore, UserStore } from '../ports';
import type { CallContext } from './context';

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

export class AuthService {
  /** Compared against when the email is unknown, so both paths cost one bcrypt verify. */
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly deps: AuthServiceDeps) {}

  async register(email: string, password: string): Promise<User> {
    assertPasswordPolicy(password);
    const passwordHash = await this.deps.hasher.hash(password);
    return this.deps.users.create({ email: normalizeEmail(email), passwordHash, role: 'user' });
  }

  async login(email: string, password: string, context: CallContext): Promise<TokenPair> {
    const user = await this.deps.users.findByEmail(normalizeEmail(email));
    this.dummyHash ??= this.deps.hasher.hash(randomUUID());
    const valid = await this.deps.hasher.verify(password, user?.passwordHash ?? (await this.dummyHash));
    if (!user || !valid) {
      await this.deps.audit.record({ actorId: user?.id ?? null, action: 'auth.login_failed', target: normalizeEmail(email), ...context });
      throw new InvalidCredentialsError();
    }
    await this.deps.audit.record({ actorId: user.id, action: 'auth.login', target: user.id, ...context });
    const familyId = randomUUID();
    const refreshToken = this.newRefreshToken();
    await this.deps.refreshTokens.issue({ userId: user.id, familyId, tokenHash: hashRefreshToken(refreshToken), expiresAt: this.refreshExpiry() });
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
    return this.pair(user, next);
  }

  /** Always succeeds: whether the token existed is not the caller's business. */
  async logout(refreshToken: string, context: CallContext): Promise<void> {
    const userId = await this.deps.refreshTokens.revokeFamily(hashRefreshToken(refreshToken));
    if (userId) await this.deps.audit.record({ actorId: userId, action: 'auth.logout', target: userId, ...context });
  }

  authenticate(accessToken: string): Actor {
    const claims = this.deps.accessTokens.verify(accessToken);
    return { userId: claims.userId, role: claims.role };
  }

  async bootstrapAdmin(email: string, password: string): Promise<'created' | 'exists'> {
    assertPasswordPolicy(password);
    const existing = await this.deps.users.findByEmail(normalizeEmail(email));
    if (existing) return 'exists';
    return this.deps.users.ensureAdmin(normalizeEmail(email), await this.deps.hasher.hash(password));
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
