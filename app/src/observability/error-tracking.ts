/**
 * Error tracking with Sentry (@sentry/node), on only when SENTRY_DSN is set. What is sent:
 *  - every bug (an unexpected error: a 5xx answer that is not an unavailable backend, a failed
 *    worker step, a startup failure, an unhandled rejection) of every role, with the request id,
 *    method and route template (never the raw URL: no query string), the role and component, and
 *    the trace id and span id of the active OpenTelemetry span (tracing.ts's setup: Sentry starts
 *    no tracer of its own, and sends no spans);
 *  - one event per incident (an unavailable backend, requests timing out), not one per failure;
 *  - never a 4xx or an expected domain error (they do not reach FailureReporter).
 * Release (the image tag or digest, SENTRY_RELEASE) and environment (SENTRY_ENVIRONMENT) are on
 * every event; SENTRY_SAMPLE_RATE samples them. Before anything leaves the process, every string
 * of the event is scrubbed (e-mail addresses, bearer and JSON web tokens, secrets in URLs and
 * `key=value` pairs, as the log redaction does) and every value under a secret-looking key
 * (password, token, authorization, cookie, …) replaced. No default integrations: no request
 * bodies or headers, no breadcrumbs, no local variables, no global handlers (main.ts owns those).
 */
import { hostname } from 'node:os';
import { trace } from '@opentelemetry/api';
import {
  NodeClient,
  Scope,
  dedupeIntegration,
  defaultStackParser,
  linkedErrorsIntegration,
  makeNodeTransport,
  type ErrorEvent,
} from '@sentry/node';
import { CENSOR, redactText, redactValue } from './redact';

export interface ErrorTrackingOptions {
  dsn?: string;
  environment: string;
  /** The image tag or digest. */
  release?: string;
  sampleRate: number;
  /** api, worker, migrate, all. */
  role: string;
}

export interface CaptureContext {
  source: string;
  requestId?: string;
  method?: string;
  route?: string;
  component?: string;
}

export interface ErrorTracker {
  captureError(error: unknown, context: CaptureContext): void;
  /** One event when an incident opens (IncidentLog's onOpen). */
  captureIncident(key: string, details: Record<string, unknown>): void;
  /** Sends what is queued (shutdown); false when it did not finish in time. */
  flush(timeoutMs?: number): Promise<boolean>;
}

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;

/** A string as it may leave the process. */
export function scrubText(text: string): string {
  return redactText(text).replace(JWT, CENSOR).replace(BEARER, `$1 ${CENSOR}`).replace(EMAIL, '[email]');
}

function scrubStrings(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (typeof value !== 'object' || value === null || depth > 20) return value;
  if (Array.isArray(value)) return value.map((item) => scrubStrings(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = scrubStrings(item, depth + 1);
  return copy;
}

/** The event with every secret-keyed value replaced and every string scrubbed (Sentry's beforeSend). */
export function scrubEvent<T extends object>(event: T): T {
  return scrubStrings(redactValue(event)) as T;
}

export function startErrorTracking(options: ErrorTrackingOptions): ErrorTracker | null {
  if (!options.dsn) return null;
  const client = new NodeClient({
    dsn: options.dsn,
    environment: options.environment,
    release: options.release,
    sampleRate: options.sampleRate,
    serverName: hostname(),
    integrations: [linkedErrorsIntegration(), dedupeIntegration()],
    transport: makeNodeTransport,
    stackParser: defaultStackParser,
    sendClientReports: false,
    maxBreadcrumbs: 0,
    // no module-loader hooks (they feed Sentry's own spans, which are not used: tracing is OpenTelemetry's)
    enableRuntimeChannelInjection: false,
    beforeSend: (event: ErrorEvent) => scrubEvent(event),
  });
  client.init();
  const base = new Scope();
  base.setClient(client);
  base.setTag('role', options.role);

  /** A scope for one event: the role, the trace of the active OpenTelemetry span, `tags`. */
  const scopeFor = (tags: Record<string, string | undefined>) => {
    const scope = base.clone();
    for (const [key, value] of Object.entries(tags)) if (value !== undefined) scope.setTag(key, value);
    const span = trace.getActiveSpan()?.spanContext();
    if (span && trace.isSpanContextValid(span)) scope.setContext('trace', { trace_id: span.traceId, span_id: span.spanId });
    return scope;
  };

  return {
    captureError(error, context) {
      const scope = scopeFor({
        source: context.source,
        request_id: context.requestId,
        method: context.method,
        route: context.route,
        component: context.component,
      });
      if (context.method && context.route) scope.setContext('request', { method: context.method, route: context.route });
      scope.captureException(error);
    },
    captureIncident(key, details) {
      const scope = scopeFor({ incident: key, source: typeof details.source === 'string' ? details.source : undefined });
      scope.setContext('incident', details);
      scope.captureMessage(`${key} (one event per incident; the count is in the logs)`, 'warning');
    },
    async flush(timeoutMs = 2_000) {
      return client.flush(timeoutMs);
    },
  };
}
