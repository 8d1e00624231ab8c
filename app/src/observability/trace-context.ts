/**
 * Trace context helpers on @opentelemetry/api only: cheap to import anywhere, and no-ops when
 * tracing is off (the API's default propagator and tracer do nothing).
 */
import { ROOT_CONTEXT, context, propagation, trace } from '@opentelemetry/api';
import { addLogMixin } from './logger';

/** Every log line written while a span is active carries its ids. */
addLogMixin(() => {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  return trace.isSpanContextValid(span.spanContext()) ? { trace_id: traceId, span_id: spanId, trace_flags: traceFlags } : {};
});

/** The active context as propagation headers (W3C `traceparent`/`tracestate`), or null when there is none. */
export function traceHeaders(): Record<string, string> | null {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? carrier : null;
}

/** Runs `fn` inside the context carried by `headers` (e.g. an outbox row's), so its spans join that trace. */
export function withRemoteContext<T>(headers: Record<string, unknown> | undefined, fn: () => T): T {
  if (!headers || typeof headers.traceparent !== 'string') return fn();
  return context.with(propagation.extract(ROOT_CONTEXT, headers), fn);
}

/** `fn` bound to the context active now (for callbacks that fire outside it, such as socket events). */
export function inActiveContext<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  return context.bind(context.active(), fn);
}
