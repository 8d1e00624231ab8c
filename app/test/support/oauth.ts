/**
 * Social sign-in test support: a real OpenID provider (oidc-provider in a child process, see
 * oidc-provider.mjs) and a minimal browser (cookie jar, manual redirects, HTML form posts) that
 * drives the flow over HTTP exactly as a user agent would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface OidcFixture {
  client: { client_id: string; client_secret: string; redirect_uris: string[] };
  accounts: Record<string, { email: string; email_verified: boolean }>;
}

export interface RunningProvider {
  issuer: string;
  close(): Promise<void>;
}

/** Starts oidc-provider on 127.0.0.1 (port 0) and resolves with its issuer once it listens. */
export function startOidcProvider(fixture: OidcFixture): Promise<RunningProvider> {
  const child: ChildProcess = spawn(process.execPath, [path.join(__dirname, 'oidc-provider.mjs')], {
    env: { PATH: process.env.PATH ?? '', OIDC_FIXTURE: JSON.stringify(fixture) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`oidc-provider did not start: ${stderr}`)), 20_000);
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const ready = /READY (\S+)/.exec(stdout);
      if (!ready) return;
      clearTimeout(timer);
      resolve({
        issuer: ready[1]!,
        close: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`oidc-provider exited (${code}): ${stderr}`));
    });
  });
}

export interface BrowserResponse {
  status: number;
  url: string;
  location: string | null;
  headers: Headers;
  text: string;
}

/**
 * A user agent: one cookie jar (per host:port, attributes other than Max-Age ignored), no
 * automatic redirects. `aliases` maps a public origin to where it really listens (the service's
 * OAUTH_REDIRECT_BASE_URL is a public name, as behind the ingress).
 */
export class Browser {
  private readonly jar = new Map<string, Map<string, string>>();

  constructor(private readonly aliases: Record<string, string> = {}) {}

  resolve(url: string): string {
    for (const [alias, real] of Object.entries(this.aliases)) if (url.startsWith(alias)) return real + url.slice(alias.length);
    return url;
  }

  cookie(url: string, name: string): string | undefined {
    return this.jar.get(new URL(this.resolve(url)).host)?.get(name);
  }

  setCookie(url: string, name: string, value: string): void {
    const host = new URL(this.resolve(url)).host;
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    this.jar.get(host)!.set(name, value);
  }

  async request(url: string, options: { method?: string; form?: Record<string, string>; json?: unknown } = {}): Promise<BrowserResponse> {
    const target = new URL(this.resolve(url));
    const headers: Record<string, string> = {};
    const cookies = this.jar.get(target.host);
    if (cookies && cookies.size > 0) headers.cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    let body: string | undefined;
    if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    } else if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    const response = await fetch(target, { method: options.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const separator = pair!.indexOf('=');
      const name = pair!.slice(0, separator).trim();
      const value = pair!.slice(separator + 1).trim();
      if (!this.jar.has(target.host)) this.jar.set(target.host, new Map());
      const expired =
        attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute)) ||
        attributes.some((a) => /^\s*expires=thu, 01 jan 1970/i.test(a));
      if (expired) this.jar.get(target.host)!.delete(name);
      else this.jar.get(target.host)!.set(name, value);
    }
    const location = response.headers.get('location');
    return {
      status: response.status,
      url: target.href,
      location: location === null ? null : new URL(location, target).href,
      headers: response.headers,
      text: await response.text(),
    };
  }
}

/**
 * From the provider's authorization URL to the redirect back to `callbackPrefix`, through the
 * provider's own login and consent pages (forms posted as a user would). Returns the callback
 * URL the provider sent the browser to, not yet followed.
 */
export async function signInAtProvider(browser: Browser, authorizationUrl: string, login: string, callbackPrefix: string): Promise<string> {
  let response = await browser.request(authorizationUrl);
  for (let step = 0; step < 20; step += 1) {
    if (response.location) {
      if (response.location.startsWith(callbackPrefix)) return response.location;
      response = await browser.request(response.location);
      continue;
    }
    const action = /<form[^>]*action="([^"]+)"/.exec(response.text)?.[1];
    const prompt = /name="prompt" value="(\w+)"/.exec(response.text)?.[1];
    if (response.status !== 200 || !action || !prompt)
      throw new Error(`unexpected provider page (${response.status} ${response.url}): ${response.text.slice(0, 300)}`);
    const form: Record<string, string> = prompt === 'login' ? { prompt, login, password: 'any password' } : { prompt };
    response = await browser.request(new URL(action, response.url).href, { form });
  }
  throw new Error('the provider never redirected back');
}
