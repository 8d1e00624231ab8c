/** A real gRPC client (@grpc/grpc-js + proto-loader over the published protos) for the tests. */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { loadProtos } from '../../src/grpc/protos';
import { decodeStatusDetails, type DecodedStatus } from '../../src/grpc/status';

type Ctor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => grpc.Client;

export interface GrpcClients {
  events: grpc.Client;
  bookings: grpc.Client;
  health: grpc.Client;
  reflection: grpc.Client;
  close(): void;
}

export function grpcClients(address: string, options: grpc.ChannelOptions = {}): GrpcClients {
  const pkg = grpc.loadPackageDefinition(loadProtos()) as unknown as { goticket: { v1: Record<string, Ctor> } };
  const healthPkg = grpc.loadPackageDefinition(protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String })) as unknown as {
    grpc: { health: { v1: { Health: Ctor } } };
  };
  const reflectionProto = path.join(
    path.dirname(require.resolve('@grpc/reflection/package.json')),
    'build/proto/grpc/reflection/v1/reflection.proto',
  );
  const reflectionPkg = grpc.loadPackageDefinition(protoLoader.loadSync(reflectionProto, { keepCase: true })) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: Ctor } } };
  };
  const credentials = grpc.credentials.createInsecure();
  const events = new pkg.goticket.v1.EventService!(address, credentials, options);
  const bookings = new pkg.goticket.v1.BookingService!(address, credentials, options);
  const health = new healthPkg.grpc.health.v1.Health(address, credentials, options);
  const reflection = new reflectionPkg.grpc.reflection.v1.ServerReflection(address, credentials, options);
  return { events, bookings, health, reflection, close: () => [events, bookings, health, reflection].forEach((client) => client.close()) };
}

export type RpcResult<T> =
  { ok: true; value: T } | { ok: false; code: number; details: string; status?: DecodedStatus; metadata: grpc.Metadata };

/** One unary call; never rejects: a failure comes back as its status, with the google.rpc details decoded. */
export function unary<T = Record<string, unknown>>(
  client: grpc.Client,
  method: string,
  request: unknown,
  options: { token?: string; deadlineMs?: number; metadata?: Record<string, string>; signal?: (call: grpc.ClientUnaryCall) => void } = {},
): Promise<RpcResult<T>> {
  const metadata = new grpc.Metadata();
  if (options.token) metadata.set('authorization', `Bearer ${options.token}`);
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  const callOptions: grpc.CallOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
  return new Promise((resolve) => {
    const fn = (client as unknown as Record<string, (...args: unknown[]) => grpc.ClientUnaryCall>)[method]!.bind(client);
    const call = fn(request, metadata, callOptions, (error: grpc.ServiceError | null, value: T) => {
      if (!error) return resolve({ ok: true, value });
      const bin = error.metadata?.get('grpc-status-details-bin')[0];
      resolve({
        ok: false,
        code: error.code,
        details: error.details,
        status: bin instanceof Buffer ? decodeStatusDetails(bin) : undefined,
        metadata: error.metadata,
      });
    });
    options.signal?.(call);
  });
}
