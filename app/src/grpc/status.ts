/**
 * Errors as gRPC statuses: a domain error takes the status of its row in THE error table
 * (app/src/error-table.ts) and its details as the standard google.rpc messages in
 * `grpc-status-details-bin` (a google.rpc.Status): BadRequest with the field violations,
 * ErrorInfo with the kind (and `seats_left` when sold out), RetryInfo for transient kinds. Anything
 * else is INTERNAL with no text of its own (no stack, SQL or driver message).
 */
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { DomainError } from '../domain/errors';
import { detailsOf, ERROR_TABLE, type GrpcCode } from '../error-table';

export const ERROR_DOMAIN = 'goticket.dev';

/** google/rpc/status.proto and error_details.proto, the messages this edge sends (field numbers as published). */
const RPC_PROTO = `
syntax = "proto3";
package google.rpc;
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
message Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
message BadRequest { message FieldViolation { string field = 1; string description = 2; } repeated FieldViolation field_violations = 1; }
message ErrorInfo { string reason = 1; string domain = 2; map<string, string> metadata = 3; }
message RetryInfo { google.protobuf.Duration retry_delay = 1; }
`;
const root = protobuf.parse(RPC_PROTO, { keepCase: true }).root;
// The well-known types the messages import, from protobufjs's bundled copies.
root.addJSON(protobuf.common.get('google/protobuf/any.proto')!.nested!);
root.addJSON(protobuf.common.get('google/protobuf/duration.proto')!.nested!);
root.resolveAll();
const StatusMessage = root.lookupType('google.rpc.Status');
const BadRequest = root.lookupType('google.rpc.BadRequest');
const ErrorInfo = root.lookupType('google.rpc.ErrorInfo');
const RetryInfo = root.lookupType('google.rpc.RetryInfo');

const any = (type: protobuf.Type, value: Record<string, unknown>) => ({
  type_url: `type.googleapis.com/${type.fullName.slice(1)}`,
  value: type.encode(type.fromObject(value)).finish(),
});

export function grpcCode(name: GrpcCode): Status {
  return Status[name];
}

/** The ServiceError a failure is answered with; `report` gets what is masked (not a domain error). */
export function toServiceError(error: unknown, report: (error: unknown) => void): Partial<ServiceError> {
  if (!(error instanceof DomainError)) {
    report(error);
    return { code: Status.INTERNAL, details: 'internal error; the request id identifies it in our logs', metadata: new Metadata() };
  }
  const row = ERROR_TABLE[error.code];
  const code = grpcCode(row.grpc);
  const details = detailsOf(error);
  const packed: Array<{ type_url: string; value: Uint8Array }> = [];
  if (details.fields && details.fields.length > 0) {
    packed.push(any(BadRequest, { field_violations: details.fields.map((field) => ({ field: field.path, description: field.message })) }));
  }
  const metadata: Record<string, string> = {};
  if (details.seatsLeft !== undefined) metadata.seats_left = String(details.seatsLeft);
  packed.push(any(ErrorInfo, { reason: error.code.toUpperCase().replace(/-/g, '_'), domain: ERROR_DOMAIN, metadata }));
  if (details.retryAfterSeconds !== undefined)
    packed.push(any(RetryInfo, { retry_delay: { seconds: details.retryAfterSeconds, nanos: 0 } }));
  const trailers = new Metadata();
  trailers.set(
    'grpc-status-details-bin',
    Buffer.from(StatusMessage.encode(StatusMessage.fromObject({ code, message: error.message, details: packed })).finish()),
  );
  trailers.set('goticket-error-kind', error.code);
  return { code, details: error.message, metadata: trailers };
}

export interface DecodedStatus {
  code: number;
  message: string;
  fieldViolations: Array<{ field: string; description: string }>;
  errorInfo?: { reason: string; domain: string; metadata: Record<string, string> };
  retryDelaySeconds?: number;
}

/** Reads `grpc-status-details-bin` back (clients and tests): what the details say, typed. */
export function decodeStatusDetails(bytes: Buffer): DecodedStatus {
  const decoded = StatusMessage.toObject(StatusMessage.decode(bytes), { defaults: true, longs: Number }) as {
    code: number;
    message: string;
    details: Array<{ type_url: string; value: Uint8Array }>;
  };
  const out: DecodedStatus = { code: decoded.code, message: decoded.message, fieldViolations: [] };
  for (const detail of decoded.details) {
    const name = detail.type_url.replace(/^type\.googleapis\.com\//, '');
    if (name === 'google.rpc.BadRequest') {
      out.fieldViolations = (
        BadRequest.toObject(BadRequest.decode(detail.value), { defaults: true }) as {
          field_violations: Array<{ field: string; description: string }>;
        }
      ).field_violations;
    } else if (name === 'google.rpc.ErrorInfo') {
      out.errorInfo = ErrorInfo.toObject(ErrorInfo.decode(detail.value), { defaults: true, objects: true }) as DecodedStatus['errorInfo'];
    } else if (name === 'google.rpc.RetryInfo') {
      out.retryDelaySeconds = Number(
        (RetryInfo.toObject(RetryInfo.decode(detail.value), { defaults: true, longs: Number }) as { retry_delay: { seconds: number } })
          .retry_delay.seconds,
      );
    }
  }
  return out;
}
