/**
 * Every error leaves as application/problem+json (RFC 9457). Domain failures take their status
 * and title from THE error table (app/src/error-table.ts), shared with the other edges; an error
 * the framework marked as the client's (a 4xx `status`, e.g. Express's URIError for a path it
 * cannot decode) keeps its status but not its message; anything else becomes a bare 500 with no
 * detail (no stack, no SQL).
 */
import { STATUS_CODES } from 'node:http';
import * as errors from '../domain/errors';
import type { FieldError } from '../domain/errors';
import { ERROR_TABLE } from '../error-table';

export const PROBLEM_TYPE_BASE = 'https://goticket.dev/problems/';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** Failures of the HTTP exchange itself (not of the domain). */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail: string,
    readonly headers: Record<string, string> = {},
    readonly fields?: FieldError[],
  ) {
    super(detail);
  }
}

export interface ProblemResponse {
  status: number;
  body: Problem;
  headers: Record<string, string>;
}

export function toProblem(error: unknown): ProblemResponse {
  if (error instanceof HttpProblem) {
    return {
      status: error.status,
      headers: error.headers,
      body: problem(error.status, error.code, error.title, error.message, error.fields),
    };
  }
  if (error instanceof errors.DomainError) {
    const { status, title } = ERROR_TABLE[error.code].http;
    const headers: Record<string, string> = {};
    if (status === 401) headers['WWW-Authenticate'] = 'Bearer';
    if (error instanceof errors.RateLimitedError || error instanceof errors.ServiceUnavailableError)
      headers['Retry-After'] = String(error.retryAfterSeconds);
    const fields = error instanceof errors.ValidationError ? error.fields : undefined;
    return { status, headers, body: problem(status, error.code, title, error.message, fields) };
  }
  const clientStatus = error instanceof errors.DomainError ? undefined : clientErrorStatus(error);
  if (clientStatus !== undefined) {
    const reason = STATUS_CODES[clientStatus] ?? 'Client error';
    const title = reason.charAt(0) + reason.slice(1).toLowerCase();
    const code = reason.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    return { status: clientStatus, headers: {}, body: problem(clientStatus, code, title, 'the request could not be processed as sent') };
  }
  return {
    status: 500,
    headers: {},
    body: problem(500, 'internal', 'Internal server error', 'something went wrong; the request id identifies it in our logs'),
  };
}

/** The 4xx status a framework or library error carries (`status`, else `statusCode`), if any. */
function clientErrorStatus(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const candidate = status ?? statusCode;
  return Number.isInteger(candidate) && (candidate as number) >= 400 && (candidate as number) <= 499 ? (candidate as number) : undefined;
}

function problem(status: number, code: string, title: string, detail: string, fields?: FieldError[]): Problem {
  const body: Problem = { type: `${PROBLEM_TYPE_BASE}${code}`, title, status, detail };
  if (fields && fields.length > 0) body.errors = fields;
  return body;
}
