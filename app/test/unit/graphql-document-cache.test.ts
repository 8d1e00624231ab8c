/**
 * The GraphQL edge parses and validates each distinct document once (documentCache in
 * app/src/graphql/handler.ts): the limits' verdict for a document seen before is the one a fresh
 * server gives, a different document is judged on its own, and a refused source stays refused.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { parse, specifiedRules, validate, type DocumentNode } from 'graphql';
import { envelop, type Plugin } from 'graphql-yoga';
import pino from 'pino';
import { armorPlugins, documentCache, graphqlRouter, LIMITS } from '../../src/graphql/handler';
import { schema } from '../../src/graphql/schema';

const EVENT_ID = '00000000-0000-4000-8000-000000000001';
const EVENT = {
  id: EVENT_ID,
  name: 'Cached',
  description: '',
  venue: '',
  startsAt: '2030-01-01T20:00:00.000Z',
  endsAt: '2030-01-01T23:00:00.000Z',
  priceCents: 100,
  currency: 'EUR',
  capacity: 10,
  available: 7,
  organizerId: '00000000-0000-4000-8000-000000000002',
  createdAt: '2029-01-01T00:00:00.000Z',
  updatedAt: '2029-01-01T00:00:00.000Z',
};

/** Depth 5: the deepest real query. */
const DEEP = '{ myBookings { edges { node { event { id } } } } }';
/** Depth 9, one over LIMITS.depth (the schema has no cycle: only asked, never servable). */
const TOO_DEEP = '{ myBookings { edges { node { event { id { a { b { c { d } } } } } } } } }';

describe('documentCache (the envelop hooks)', () => {
  const counting = () => {
    const counts = { parses: 0, validations: 0 };
    const engine: Plugin = {
      onParse: ({ setParseFn }) => setParseFn(parse),
      onValidate: ({ setValidationFn, addValidationRule }) => {
        setValidationFn(validate);
        specifiedRules.forEach(addValidationRule);
      },
    };
    // After the limits' hooks: counts the parses and validations that really run.
    const counter: Plugin = {
      onParse: ({ parseFn, setParseFn }) =>
        setParseFn((...args) => {
          counts.parses++;
          return parseFn(...args);
        }),
      onValidate: ({ validateFn, setValidationFn }) =>
        setValidationFn((...args) => {
          counts.validations++;
          return validateFn(...args);
        }),
    };
    // the router's own limits (production: the stricter set)
    const armor = armorPlugins(true);
    const getEnveloped = envelop({ plugins: [engine, ...armor.plugins, counter, documentCache()] });
    return { counts, run: () => getEnveloped({}) };
  };
  const judge = (enveloped: { parse: (source: string) => DocumentNode; validate: typeof validate }, source: string) => {
    const document = enveloped.parse(source);
    try {
      return { document, errors: enveloped.validate(schema, document).map((error) => error.message) };
    } catch (error) {
      // graphql-armor's limits refuse by throwing.
      return { document, errors: [(error as Error).message], thrown: error };
    }
  };

  it('parses and validates a document once; the cached verdict is the fresh one', () => {
    const cached = counting();
    const aliased = `{ ${Array.from({ length: LIMITS.aliases + 1 }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
    for (const source of [DEEP, TOO_DEEP, aliased]) {
      const first = judge(cached.run(), source);
      const again = judge(cached.run(), source);
      const fresh = judge(counting().run(), source);
      expect(again.document).toBe(first.document);
      expect(again.errors).toEqual(first.errors);
      expect(again.thrown).toBe(first.thrown);
      expect(fresh.errors).toEqual(first.errors);
    }
    expect(judge(cached.run(), DEEP).errors).toEqual([]);
    expect(judge(cached.run(), TOO_DEEP).errors).toContainEqual(expect.stringMatching(/Query depth limit of 8 exceeded/));
    expect(judge(cached.run(), aliased).errors).toEqual([expect.stringMatching(/Aliases limit of 15 exceeded/)]);
    expect(cached.counts).toEqual({ parses: 3, validations: 3 });
  });

  it('judges a different document on its own, however alike', () => {
    const cached = counting();
    const within = `{ ${Array.from({ length: LIMITS.aliases }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
    const over = `{ ${Array.from({ length: LIMITS.aliases + 1 }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
    expect(judge(cached.run(), within).errors).toEqual([]);
    expect(judge(cached.run(), over).errors).toEqual([expect.stringMatching(/Aliases limit of 15 exceeded/)]);
    expect(judge(cached.run(), within).errors).toEqual([]);
    expect(cached.counts).toEqual({ parses: 2, validations: 2 });
  });

  it('a source over the token limit stays refused, with the same error, without parsing it again', () => {
    const cached = counting();
    const tokens = `{ ${Array.from({ length: LIMITS.tokens }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const refusal = (source: string) => {
      try {
        cached.run().parse(source);
      } catch (error) {
        return error;
      }
      throw new Error('parsed');
    };
    const first = refusal(tokens);
    expect(first).toEqual(expect.objectContaining({ message: expect.stringMatching(/Token limit of 2000 exceeded/) }));
    expect(refusal(tokens)).toBe(first);
    expect(cached.counts.parses).toBe(1);
  });
});

describe('documentCache behind the GraphQL router (production settings)', () => {
  const servers: Server[] = [];
  afterAll(async () => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

  /** A router of its own (its own caches) in front of stand-in services. */
  async function start(): Promise<string> {
    const user = { userId: '00000000-0000-4000-8000-000000000003', role: 'user' as const };
    const services = {
      auth: { authenticate: async () => user },
      users: {},
      events: { getJson: async () => JSON.stringify(EVENT), getMany: async (ids: readonly string[]) => ids.map(() => null) },
      bookings: {},
    } as unknown as Parameters<typeof graphqlRouter>[0]['services'];
    const app = express();
    app.use(
      graphqlRouter({
        services,
        logger: pino({ level: 'silent' }),
        http: { bodyLimit: '100kb', requestTimeoutMs: 10_000 },
        clientIp: () => '127.0.0.1',
        production: true,
      }),
    );
    const server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, () => resolve(listening));
    });
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  }
  const ask = async (url: string, query: string) => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    return { status: response.status, body: (await response.json()) as unknown };
  };

  it('the same answer for a document the router has seen and one it has not, refused or served', async () => {
    const [seen, fresh] = [await start(), await start()];
    const introspection = '{ __schema { types { name } } }';
    const read = `{ event(id: "${EVENT_ID}") { id name available } }`;
    const unknownField = '{ events { edges { node { passwordHash } } } }';
    for (const query of [introspection, read, unknownField, DEEP, TOO_DEEP]) {
      const first = await ask(seen, query);
      expect(await ask(seen, query)).toEqual(first);
      expect(await ask(fresh, query)).toEqual(first);
    }
    const refused = (await ask(seen, introspection)).body as { errors: Array<{ extensions: { code: string } }> };
    expect(refused.errors.length).toBeGreaterThan(0);
    expect(refused.errors.map((error) => error.extensions.code)).toEqual(refused.errors.map(() => 'GRAPHQL_VALIDATION_FAILED'));
    expect(await ask(seen, read)).toEqual({ status: 200, body: { data: { event: { id: EVENT_ID, name: 'Cached', available: 7 } } } });
    expect(JSON.stringify((await ask(seen, unknownField)).body)).not.toMatch(/Did you mean/i);
    expect(JSON.stringify((await ask(seen, TOO_DEEP)).body)).toMatch(/Query depth limit of 8 exceeded/);
  });
});
