import { context, SpanStatusCode, trace, type Span } from '@opentelemetry/api';

const tracer = trace.getTracer('goticket-graphql');

/**
 * A root resolver inside its own span (`graphql.resolve Query.event`), so a trace shows which
 * field of an operation the time went to; the pg and Redis spans beneath join it. When the span
 * records nothing and making it active would change nothing a child or a log line sees (the API's
 * default no-op tracer: no SDK, or no valid trace), the resolver runs as it is, without a context
 * switch or a wrapping promise.
 */
export function traced<A extends unknown[], R>(field: string, resolve: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  const name = `graphql.resolve ${field}`;
  const options = { attributes: { 'graphql.field.path': field } };
  return (...args) => {
    const active = context.active();
    const span = tracer.startSpan(name, options, active);
    if (!span.isRecording() && sameSpanContext(span, trace.getSpan(active))) return resolve(...args);
    return context.with(trace.setSpan(active, span), () => within(span, resolve, args));
  };
}

async function within<A extends unknown[], R>(span: Span, resolve: (...args: A) => Promise<R>, args: A): Promise<R> {
  try {
    return await resolve(...args);
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    if (error instanceof Error) span.setAttribute('goticket.error', error.name);
    throw error;
  } finally {
    span.end();
  }
}

/** Whether `span` carries the trace and span ids already active (or both none): activating it would be invisible. */
function sameSpanContext(span: Span, parent: Span | undefined): boolean {
  const mine = span.spanContext();
  if (!trace.isSpanContextValid(mine)) return parent === undefined || !trace.isSpanContextValid(parent.spanContext());
  if (!parent) return false;
  const theirs = parent.spanContext();
  return mine.traceId === theirs.traceId && mine.spanId === theirs.spanId && mine.traceFlags === theirs.traceFlags;
}
