import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { UnauthenticatedError } from '../domain/errors';
import { logContext, type Logger } from '../observability/logger';
import { httpRequestDuration } from '../observability/metrics';
import { inActiveContext } from '../observability/trace-context';
import { HttpProblem } from './problem';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's X-Request-Id when it is sane (one value, safe characters, not too long), else a new one. */
export function requestIdOf(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** Accepts a sane X-Request-Id or makes one; every log line of the request carries it. */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const requestId = requestIdOf(req.headers['x-request-id']);
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    // bound to the request's trace context: 'finish' fires from the socket, outside it
    res.on('finish', inActiveContext(() => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (res.locals.routeTemplate as string | undefined) ?? 'unmatched';
      httpRequestDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      const level = res.statusCode >= 500 ? 'error' : 'info';
      logContext.run({ request_id: requestId }, () =>
        logger[level]({ method: req.method, route, status: res.statusCode, duration_ms: Math.round(seconds * 1000), ip: req.ip }, 'request'),
      );
    }));
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
        return next(new HttpProblem(415, 'unsupported-media-type', 'Unsupported media type', `send the body uncompressed or with one Content-Encoding of ${DECODED_ENCODINGS}`));
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
      if (!res.headersSent) next(new HttpProblem(503, 'timeout', 'Request timed out', 'the request took too long; retry later', { 'Retry-After': '1' }));
    }, ms);
    timer.unref();
    res.on('close', () => clearTimeout(timer));
    next();
  };
}

export function bearerToken(req: Request): string {
  const header = req.get('authorization');
  const match = header ? /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/.exec(header) : null;
  if (!match) throw new UnauthenticatedError(header ? 'malformed Authorization header' : 'sign in: send Authorization: Bearer <access token>');
  return match[1]!;
}
