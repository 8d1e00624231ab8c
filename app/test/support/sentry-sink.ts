/**
 * A local stand-in for Sentry's ingest: an HTTP server on 127.0.0.1 that accepts what the SDK's
 * real transport sends (`POST /api/<project>/envelope/`, gzip or not) and keeps every envelope
 * (newline-delimited JSON: a header, then item headers each followed by its payload).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface EnvelopeItem {
  header: { type: string; [key: string]: unknown };
  payload: Record<string, unknown>;
}

export interface Envelope {
  path: string;
  /** The body as received (decompressed): what a secret must not appear in. */
  raw: string;
  header: Record<string, unknown>;
  items: EnvelopeItem[];
}

export interface SentrySink {
  /** A DSN that points the SDK at this server. */
  dsn: string;
  envelopes: Envelope[];
  /** Error and message events (items of type `event`). */
  events(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

function parse(path: string, raw: string): Envelope {
  const lines = raw.split('\n').filter((line) => line.length > 0);
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  const items: EnvelopeItem[] = [];
  for (let i = 1; i + 1 < lines.length; i += 2) {
    items.push({ header: JSON.parse(lines[i]!) as EnvelopeItem['header'], payload: JSON.parse(lines[i + 1]!) as Record<string, unknown> });
  }
  return { path, raw, header, items };
}

export async function startSentrySink(): Promise<SentrySink> {
  const envelopes: Envelope[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      if (req.method === 'POST' && /^\/api\/\d+\/envelope\/?/.test(req.url ?? ''))
        envelopes.push(parse(req.url ?? '', body.toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    dsn: `http://0123456789abcdef0123456789abcdef@127.0.0.1:${port}/42`,
    envelopes,
    events: () =>
      envelopes.flatMap((envelope) => envelope.items.filter((item) => item.header.type === 'event').map((item) => item.payload)),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
