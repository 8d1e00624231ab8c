/**
 * Swagger UI in a real headless Chromium (Debian `chromium`, driven by playwright-core): the
 * page renders the operations from /openapi.json, and "Try it out" on GET /events gets a 200
 * from this server. `UPDATE_SCREENSHOT=1` refreshes docs/swagger-ui.png for the README.
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { call, futureEvent, startTestApi, type TestApi } from '../support/api';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = path.resolve(__dirname, '../../../docs/swagger-ui.png');

let api: TestApi;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/system-deps.sh (Debian package chromium)`);
  api = await startTestApi();
  const organizer = await api.user('organizer');
  const created = await call(`${api.url}/events`, { token: organizer.token, body: futureEvent({ name: 'Swagger Night' }) });
  expect(created.status).toBe(201);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await api?.close();
});

test('opens /docs, lists the operations, and "Try it out" on GET /events reads a 200', async () => {
  const base = api.url.replace(/\/api\/v1$/, '');
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  const offsite: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith('data:')) offsite.push(request.url());
  });

  const response = await page.goto(`${base}/docs`);
  expect(response?.status()).toBe(200);
  await page.locator('.swagger-ui .info .title').getByText('GoTicket API').waitFor({ timeout: 20_000 });

  // every operation of the document is on the page
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const expected = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
  await page
    .locator('.opblock')
    .nth(expected - 1)
    .waitFor({ timeout: 10_000 });
  expect(await page.locator('.opblock').count()).toBe(expected);
  for (const id of ['getEvents', 'postEventsIdBookings', 'postAuthLogin']) {
    expect(await page.locator(`[id$="-${id}"]`).count()).toBe(1);
  }

  const getEvents = page.locator('[id$="-getEvents"]');
  await getEvents.locator('.opblock-summary').first().click();
  await getEvents.getByRole('button', { name: 'Try it out' }).click();
  await getEvents.getByRole('button', { name: 'Execute' }).click();
  const status = getEvents.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor({ timeout: 20_000 });
  expect((await status.innerText()).trim()).toBe('200');
  const body = await getEvents.locator('.live-responses-table .response-col_description pre').first().innerText();
  expect(body).toContain('Swagger Night');

  // the header, the operation list and the live 200 answer of GET /events; the committed copy
  // is only replaced on request (UPDATE_SCREENSHOT=1), so a test run leaves the tree clean
  const target =
    process.env.UPDATE_SCREENSHOT === '1' || !existsSync(SCREENSHOT)
      ? SCREENSHOT
      : path.join(mkdtempSync(path.join(tmpdir(), 'swagger-')), 'swagger-ui.png');
  mkdirSync(path.dirname(target), { recursive: true });
  const png = await page.screenshot({ path: target, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: 2300 } });
  expect(png.subarray(1, 4).toString()).toBe('PNG');
  expect(offsite).toEqual([]);
  expect(problems).toEqual([]);
  await page.close();
});
