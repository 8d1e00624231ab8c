export const ROLES = ['user', 'organizer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  id: string;
  email: string;
  role: Role;
  createdAt: Date;
  updatedAt: Date;
}

/** Who is asking. Built from a verified access token, never from a request body. */
export interface Actor {
  userId: string;
  role: Role;
}

export const MIN_PASSWORD_LENGTH = 12;
/** bcrypt ignores bytes past 72: longer passwords would silently collide. */
export const MAX_PASSWORD_BYTES = 72;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function isAdmin(actor: Actor): boolean {
  return actor.role === 'admin';
}
