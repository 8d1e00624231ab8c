/**
 * OpenTelemetry bootstrap. main.ts imports this module FIRST: instrumentations patch http,
 * express, pg, ioredis and amqplib when those are required, so they must be registered before.
 *
 * On only when OTEL_EXPORTER_OTLP_ENDPOINT is set (OTLP/HTTP, `<endpoint>/v1/traces`); the
 * other standard OTEL_* variables (OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, OTEL_BSP_*) work as
 * the SDK documents them. These are read here and by the SDK, not by config.ts: they must act
 * before anything else is loaded.
 */
import type * as SdkNode from '@opentelemetry/sdk-node';
import type * as OtlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import type * as HttpInst from '@opentelemetry/instrumentation-http';
import type * as ExpressInst from '@opentelemetry/instrumentation-express';
import type * as PgInst from '@opentelemetry/instrumentation-pg';
import type * as IORedisInst from '@opentelemetry/instrumentation-ioredis';
import type * as AmqpInst from '@opentelemetry/instrumentation-amqplib';
import type * as Resources from '@opentelemetry/resources';
import './trace-context';

let sdk: SdkNode.NodeSDK | null = null;

/** Probes and scrapes would drown the traces that matter. */
const UNTRACED = /^\/(metrics|healthz\/|docs(\/|$)|openapi\.json)/;

export function startTracing(env: NodeJS.ProcessEnv = process.env, role = process.argv[2] ?? 'all'): SdkNode.NodeSDK | null {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint || env.OTEL_SDK_DISABLED === 'true' || sdk) return sdk;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof SdkNode;
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof OtlpHttp;
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof HttpInst;
  const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express') as typeof ExpressInst;
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof PgInst;
  const { IORedisInstrumentation } = require('@opentelemetry/instrumentation-ioredis') as typeof IORedisInst;
  const { AmqplibInstrumentation } = require('@opentelemetry/instrumentation-amqplib') as typeof AmqpInst;
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof Resources;
  /* eslint-enable @typescript-eslint/no-require-imports */
  sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? `goticket-${role}`,
    resource: resourceFromAttributes({ 'goticket.role': role }),
    traceExporter: new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` }),
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => UNTRACED.test(req.url ?? '') }),
      new ExpressInstrumentation(),
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
      new AmqplibInstrumentation(),
    ],
  });
  sdk.start();
  return sdk;
}

/** Flushes and stops the exporter (main.ts calls it last on shutdown). */
export async function shutdownTracing(): Promise<void> {
  const running = sdk;
  sdk = null;
  await running?.shutdown().catch(() => undefined);
}

startTracing();
