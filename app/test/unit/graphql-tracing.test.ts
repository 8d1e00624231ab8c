/**
 * GraphQL root resolvers in spans of their own (app/src/graphql/tracing.ts): with no tracer
 * installed the resolver runs as it is (no span, nothing active changes); with one, each call is a
 * `graphql.resolve <field>` span, active while the resolver runs, marked on failure; a span the
 * sampler drops is still made active (its ids are what children and log lines see, as before).
 */
import { trace, type Span } from '@opentelemetry/api';
import { node } from '@opentelemetry/sdk-node';
import { traced } from '../../src/graphql/tracing';

let sampled = true;
const exporter = new node.InMemorySpanExporter();
const provider = new node.NodeTracerProvider({
  sampler: {
    shouldSample: () => ({ decision: sampled ? node.SamplingDecision.RECORD_AND_SAMPLED : node.SamplingDecision.NOT_RECORD }),
    toString: () => 'toggled',
  },
  spanProcessors: [new node.SimpleSpanProcessor(exporter)],
});

afterAll(async () => provider.shutdown());

const activeIds = () => {
  const span = trace.getActiveSpan();
  return span ? { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId } : undefined;
};

it('without a tracer: the resolver runs with its arguments, its answer and its failure, and nothing becomes active', async () => {
  const seen: unknown[] = [];
  const resolve = traced('Query.event', async (root: unknown, id: string) => {
    seen.push(root, id, trace.getActiveSpan());
    return `event ${id}`;
  });
  await expect(resolve('root', '42')).resolves.toBe('event 42');
  expect(seen).toEqual(['root', '42', undefined]);
  await expect(traced('Mutation.bookSeats', async () => Promise.reject(new RangeError('sold')))()).rejects.toThrow('sold');
});

describe('with a tracer', () => {
  beforeAll(() => provider.register());
  beforeEach(() => {
    sampled = true;
    exporter.reset();
  });

  it('each call is a graphql.resolve span, active while the resolver runs, under the caller’s span', async () => {
    const tracer = trace.getTracer('test');
    const inner: Array<ReturnType<typeof activeIds>> = [];
    const resolve = traced('Query.event', async () => {
      inner.push(activeIds());
      return 'ok';
    });
    const outer = await tracer.startActiveSpan('http', async (span: Span) => {
      await resolve();
      span.end();
      return span.spanContext();
    });
    const resolved = exporter.getFinishedSpans().find((span) => span.name === 'graphql.resolve Query.event')!;
    expect(resolved.attributes).toEqual({ 'graphql.field.path': 'Query.event' });
    expect(resolved.spanContext().traceId).toBe(outer.traceId);
    expect(resolved.parentSpanContext?.spanId).toBe(outer.spanId);
    expect(inner).toEqual([{ traceId: outer.traceId, spanId: resolved.spanContext().spanId }]);
  });

  it('a failure marks the span ERROR with the error’s name and still rejects', async () => {
    const resolve = traced('Mutation.bookSeats', async () => Promise.reject(new RangeError('sold out')));
    await expect(resolve()).rejects.toThrow('sold out');
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe('graphql.resolve Mutation.bookSeats');
    expect(span!.status.code).toBe(2);
    expect(span!.attributes['goticket.error']).toBe('RangeError');
  });

  it('a span the sampler drops is recorded nowhere but still active, as before', async () => {
    const tracer = trace.getTracer('test');
    const inner: Array<ReturnType<typeof activeIds>> = [];
    const resolve = traced('Query.me', async () => {
      inner.push(activeIds());
      return 'me';
    });
    sampled = true;
    const outer = await tracer.startActiveSpan('http', async (span: Span) => {
      sampled = false;
      await resolve();
      span.end();
      return span.spanContext();
    });
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(['http']);
    expect(inner[0]!.traceId).toBe(outer.traceId);
    expect(inner[0]!.spanId).not.toBe(outer.spanId);
  });
});
