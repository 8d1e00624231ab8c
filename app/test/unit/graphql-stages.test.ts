/**
 * The GraphQL router's stages run as one middleware (inOrder in app/src/graphql/handler.ts) with
 * Express's rules between them: in order, an error (passed, thrown or rejected) skips the rest and
 * reaches the error handler, and a stage's `next()` after the last goes on past the router.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { inOrder } from '../../src/graphql/handler';

let server: Server;
let url: string;
const ran: string[] = [];
const mark =
  (name: string): RequestHandler =>
  (_req, _res, next) => {
    ran.push(name);
    next();
  };
const CASES: Record<string, RequestHandler[]> = {
  '/through': [mark('a'), mark('b'), mark('c')],
  '/answered': [mark('a'), (_req, res) => void res.status(201).json({ by: 'b' }), mark('c')],
  '/passed': [mark('a'), (_req, _res, next) => next(new Error('passed')), mark('c')],
  '/thrown': [
    mark('a'),
    () => {
      throw new Error('thrown');
    },
    mark('c'),
  ],
  '/rejected': [mark('a'), async () => Promise.reject(new Error('rejected')), mark('c')],
  '/later': [mark('a'), (_req, _res, next) => setImmediate(next), mark('c')],
  '/router': [mark('a'), (_req, _res, next) => next('router'), mark('c')],
};

beforeAll(async () => {
  const app = express();
  for (const [path, stages] of Object.entries(CASES)) app.use(path, inOrder(stages));
  app.use((_req: Request, res: Response) => void res.status(404).json({ by: 'after' }));
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => void res.status(500).json({ error: error.message }));
  server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, () => resolve(listening));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => new Promise((resolve) => server.close(resolve)));
beforeEach(() => void ran.splice(0));

const get = async (path: string) => {
  const response = await fetch(`${url}${path}`);
  return { status: response.status, body: (await response.json()) as unknown, ran: [...ran] };
};

it.each([
  ['/through', 404, { by: 'after' }, ['a', 'b', 'c']],
  ['/answered', 201, { by: 'b' }, ['a']],
  ['/passed', 500, { error: 'passed' }, ['a']],
  ['/thrown', 500, { error: 'thrown' }, ['a']],
  ['/rejected', 500, { error: 'rejected' }, ['a']],
  ['/later', 404, { by: 'after' }, ['a', 'c']],
  ['/router', 404, { by: 'after' }, ['a']],
])('%s: %i', async (path, status, body, stages) => {
  expect(await get(path)).toEqual({ status, body, ran: stages });
});
