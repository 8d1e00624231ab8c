import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { logContext, type Logger } from '../observability/logger';
import { httpRequestDuration } from '../observability/metrics';
import { inActiveContext } from '../observability/trace-context';
import { HttpProblem } from './problem';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The duration histogram's child per method, route template and status (bounded: templates, not paths). */
const durations = new Map<string, ReturnType<typeof httpRequestDuration.labels>>();
function durationOf(method: string, route: string, status: number) {
  const key = `${method} ${status} ${route}`;
  let child = durations.get(key);
  if (!child) durations.set(key, (child = httpRequestDuration.labels({ method, route, status: String(status) })));
  return child;
}

/** The caller's X-Request-Id when it is sane (one value, safe characters, not too long), else a new one. */
export function requestIdOf(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * The access-log line of this request: `false` leaves it out, a number N logs it marked
 * `sampled: N` (one of every N such requests is logged). Default: logged, unmarked.
 */
export function sampleAccessLog(res: Response, sample: false | number): void {
  res.locals.accessLog = sample;
}

/**
 * The request context of every request: a sane X-Request-Id accepted or a new one made (set on
 * the response first), every log line of the request carrying it, and at 'finish' the
 * http_request_duration_seconds observation (route template from `res.locals.routeTemplate`)
 * and the access-log line (see sampleAccessLog).
 */
export function requestContext(logger: Logger, clientIp: (req: IncomingMessage) => string): RequestHandler {
  return (req, res, next) => {
    const requestId = requestIdOf(req.headers['x-request-id']);
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    // bound to the request's trace context: 'finish' fires from the socket, outside it
    res.on(
      'finish',
      inActiveContext(() => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const route = (res.locals.routeTemplate as string | undefined) ?? 'unmatched';
        durationOf(req.method, route, res.statusCode).observe(seconds);
        const sample = res.locals.accessLog as false | number | undefined;
        if (sample === false) return;
        const level = res.statusCode >= 500 ? 'error' : 'info';
        const sampled = sample === undefined ? {} : { sampled: sample };
        logContext.run({ request_id: requestId }, () =>
          logger[level](
            { method: req.method, route, status: res.statusCode, duration_ms: Math.round(seconds * 1000), ip: clientIp(req), ...sampled },
            'request',
          ),
        );
      }),
    );
    logContext.run({ request_id: requestId }, next);
  };
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** A body that is not JSON is refused before anything reads it. */
export function requireJsonBodies(): RequestHandler {
  return (req, _res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (BODY_METHODS.has(req.method) && hasBody && !req.is(['application/json', 'application/*+json'])) {
      return next(new HttpProblem(415, 'unsupported-media-type', 'Unsupported media type', 'send the body as application/json'));
    }
    next();
  };
}

/** Maps body-parser failures to problems without echoing the parser's message. */
export function bodyParserErrors() {
  return (error: { type?: string; status?: number }, req: Request, _res: Response, next: NextFunction) => {
    switch (error?.type) {
      case 'entity.parse.failed':
        return next(new HttpProblem(400, 'malformed-json', 'Malformed JSON', 'the body is not valid JSON'));
      case 'entity.too.large':
        return next(new HttpProblem(413, 'payload-too-large', 'Payload too large', 'the body exceeds the size limit'));
      case 'charset.unsupported':
        return next(new HttpProblem(415, 'unsupported-media-type', 'Unsupported media type', 'send the body as UTF-8 JSON'));
      case 'encoding.unsupported':
        return next(
          new HttpProblem(
            415,
            'unsupported-media-type',
            'Unsupported media type',
            `send the body uncompressed or with one Content-Encoding of ${DECODED_ENCODINGS}`,
          ),
        );
      case 'request.aborted':
      case 'request.size.invalid':
      case 'stream.encoding.set':
        return next(new HttpProblem(400, 'bad-request', 'Bad request', 'the body could not be read'));
      case undefined:
        // The decompression stream failed (zlib's Z_DATA_ERROR, a brotli format error, a cut-short
        // stream): body-parser marks zlib's error 400 and gives it no type.
        if (error?.status === 400 && isEncoded(req)) {
          return next(new HttpProblem(400, 'malformed-body', 'Malformed body', 'the body is not what its Content-Encoding says it is'));
        }
        return next(error);
      default:
        return next(error);
    }
  };
}

/** The codings body-parser decodes (any other is refused as encoding.unsupported). */
const DECODED_ENCODINGS = 'gzip, deflate or br';

function isEncoded(req: Request): boolean {
  const encoding = req.headers['content-encoding'];
  return encoding !== undefined && encoding.toLowerCase() !== 'identity';
}

/** Answers 503 when a handler runs past the deadline (the work may still finish). */
export function requestTimeout(ms: number): RequestHandler {
  return (_req, res, next) => {
    const timer = setTimeout(() => {
      if (!res.headersSent)
        next(new HttpProblem(503, 'timeout', 'Request timed out', 'the request took too long; retry later', { 'Retry-After': '1' }));
    }, ms);
    timer.unref();
    res.on('close', () => clearTimeout(timer));
    next();
  };
}
