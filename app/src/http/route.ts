/**
 * A route is declared once, with the zod schemas of what it accepts and returns. The same
 * table registers the Express handlers, answers 405 for known paths, and feeds OpenAPI.
 */
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { ValidationError, type FieldError } from '../domain/errors';
import type { Actor } from '../domain/user';

export type Method = 'get' | 'post' | 'patch' | 'delete';

export interface HandlerContext<P, Q, B, H> {
  params: P;
  query: Q;
  body: B;
  headers: H;
  /** Present when the route requires authentication. */
  actor: Actor;
  req: Request;
  res: Response;
}

export interface Reply {
  status: number;
  body?: unknown;
  /** The body as JSON text already (e.g. from the cache): sent as is, as `res.json(body)` would send it. */
  json?: string | Buffer;
  headers?: Record<string, string>;
}

export interface RouteSpec<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
  H extends z.ZodType = z.ZodType,
> {
  method: Method;
  /** Express path under the API base, e.g. `/events/:id`. */
  path: string;
  summary: string;
  tags: string[];
  /** `user`: a valid access token is required. */
  auth: 'public' | 'user';
  /** A read whose JSON reply carries ETag and Cache-Control and answers If-None-Match with 304 (conditional.ts). */
  conditional?: boolean;
  /** Roles the OpenAPI document lists as allowed (services enforce them). */
  roles?: string[];
  params?: P;
  query?: Q;
  body?: B;
  headers?: H;
  /** Documented responses: status → description and optional schema. */
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  handler(context: HandlerContext<z.output<P>, z.output<Q>, z.output<B>, z.output<H>>): Promise<Reply>;
}

/** Lets TypeScript infer the schema types of one route. */
export function route<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, H extends z.ZodType>(
  spec: RouteSpec<P, Q, B, H>,
): RouteSpec {
  return spec;
}

/** Path of the first string (key or value) holding U+0000, which PostgreSQL text cannot store. */
function findNul(value: unknown, path: string[], depth = 0): string[] | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (depth > 64 || value === null || typeof value !== 'object') return null;
  for (const [key, child] of Object.entries(value)) {
    if (key.includes('\u0000')) return [...path, key];
    const found = findNul(child, [...path, key], depth + 1);
    if (found) return found;
  }
  return null;
}

export function parseInput<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.output<T> | undefined {
  if (!schema) return undefined;
  const nul = findNul(value, [where]);
  if (nul) throw new ValidationError(`invalid ${where}`, [{ path: nul.join('.'), message: 'must not contain NUL characters' }]);
  const result = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (result.success) return result.data;
  const fields: FieldError[] = result.error.issues.slice(0, 20).map((issue) => ({
    path: [where, ...issue.path.map(String)].join('.'),
    message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
  throw new ValidationError(`invalid ${where}`, fields);
}

/** `/events/:id` → `/events/{id}` for OpenAPI. */
export function openApiPath(path: string): string {
  return path.replace(/:(\w+)/g, '{$1}');
}
