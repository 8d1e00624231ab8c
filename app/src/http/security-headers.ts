import type { RequestHandler } from 'express';
import helmet from 'helmet';

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/**
 * The headers helmet's defaults set (CSP, HSTS, nosniff, frame options, CORP, …), recorded once
 * by running helmet against a stand-in response. They depend on nothing in the request, so every
 * response can get the same list without helmet's thirteen middleware calls per request.
 */
export function helmetHeaders(): HeaderList {
  const headers: Array<[string, string]> = [];
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers.push([name, String(value)]);
    },
    removeHeader() {
      // X-Powered-By: Express's is disabled in createApp
    },
  };
  let error: unknown;
  let called = false;
  helmet()({} as never, recorder as never, (failure?: unknown) => {
    called = true;
    error = failure;
  });
  if (!called || error)
    throw new Error(`helmet did not set its headers synchronously: ${called ? 'it failed' : 'next() not called'}`, { cause: error });
  return headers;
}

/** Sets the recorded helmet headers on every response (the one place they are set). */
export function securityHeaders(headers: HeaderList = helmetHeaders()): RequestHandler {
  return (_req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}
