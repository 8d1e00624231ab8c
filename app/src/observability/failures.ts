import { ServiceUnavailableError } from '../domain/errors';
import { IncidentLog, type IncidentLogOptions } from './incidents';
import type { Logger } from './logger';
import { failures, type FailureKind, type FailureSource } from './metrics';

export interface FailureContext {
  source: FailureSource;
  /** The request's id (X-Request-Id), when a request failed. */
  requestId?: string;
  method?: string;
  /** Route template, never the raw path. */
  route?: string;
  /** The worker or component that failed. */
  component?: string;
  /** A deadline passed (the request timeout): an incident, like an unavailable backend. */
  timeout?: boolean;
}

/**
 * Where every failure that reached the top of a request, a worker step or the process is
 * reported, so all of them are logged, counted and tracked by one rule:
 *  - a backend that could not answer (ServiceUnavailableError) or a passed deadline is an
 *    incident: one line when it starts, the count while it lasts and when it ends (IncidentLog),
 *    counted as `unavailable` / `timeout`;
 *  - anything else is a bug: one error line with its stack and request id, counted as `internal`.
 */
export class FailureReporter {
  readonly incidents: IncidentLog;

  constructor(
    private readonly logger: Logger,
    options: IncidentLogOptions = {},
  ) {
    this.incidents = new IncidentLog(logger, options);
  }

  /** The kind `report` files `error` under. */
  static kindOf(error: unknown, context: Pick<FailureContext, 'timeout'> = {}): FailureKind {
    if (error instanceof ServiceUnavailableError) return 'unavailable';
    return context.timeout ? 'timeout' : 'internal';
  }

  report(error: unknown, context: FailureContext): void {
    const kind = FailureReporter.kindOf(error, context);
    failures.inc({ kind, source: context.source });
    if (error instanceof ServiceUnavailableError) {
      this.incidents.record(`${error.dependency} unavailable`, { dependency: error.dependency, reason: error.reason, source: context.source });
      return;
    }
    if (kind === 'timeout') {
      this.incidents.record('requests timing out', { source: context.source, route: context.route });
      return;
    }
    const { source, requestId, method, route, component } = context;
    this.logger.error({ err: error, source, request_id: requestId, method, route, component }, source === 'http' ? 'request failed' : `${component ?? source} failed`);
  }
}
