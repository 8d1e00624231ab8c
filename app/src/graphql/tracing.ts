import { SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('goticket-graphql');

/**
 * A root resolver inside its own span (`graphql.resolve Query.event`), so a trace shows which
 * field of an operation the time went to; the pg and Redis spans beneath join it. A no-op when
 * tracing is off (the API's default tracer).
 */
export function traced<A extends unknown[], R>(field: string, resolve: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return (...args) =>
    tracer.startActiveSpan(`graphql.resolve ${field}`, { attributes: { 'graphql.field.path': field } }, async (span) => {
      try {
        return await resolve(...args);
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        if (error instanceof Error) span.setAttribute('goticket.error', error.name);
        throw error;
      } finally {
        span.end();
      }
    });
}
