/** The published protos (proto/goticket/v1), loaded at startup with @grpc/proto-loader: no generated code to drift. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';

/**
 * proto/ at the repository root, seen from app/src/grpc (ts) and build/app/grpc (compiled) alike;
 * the image copies it beside build/; a build of its own (tests) carries it beside its app/.
 */
const CANDIDATES = [
  path.resolve(__dirname, '..', '..', '..', 'proto'),
  path.resolve(__dirname, '..', '..', 'proto'),
  path.resolve(process.cwd(), 'proto'),
];
export const PROTO_DIR = CANDIDATES.find((dir) => existsSync(path.join(dir, 'goticket', 'v1', 'events.proto'))) ?? CANDIDATES[0]!;
export const PROTO_FILES = ['goticket/v1/events.proto', 'goticket/v1/bookings.proto'];

/** Field names as written in the protos; enums as their names; 64-bit integers as strings; absent fields undefined. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export function loadProtos(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
}
