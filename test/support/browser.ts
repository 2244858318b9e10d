import { request as httpRequest } from 'node:http';
/**
 * A minimal browser over fetch: a cookie jar that respects cookie paths, manual redirects, and form
 * posts with the page's hidden fields (CSRF token) — what a real browser sends, no shortcuts.
 */
interface StoredCookie {
  name: string;
  value: string;
  path: string;
}

export interface Page {
  url: string;
  status: number;
  html: string;
  headers: Headers;
}

export class Browser {
  private cookies = new Map<string, StoredCookie>();
  /** `headers` go with every request (e.g. the X-Forwarded-* a proxy adds). */
  /** `opts.localAddress`: the source address of the browser's connections (issue #16: 127.0.0.0/8 holds many /24 networks). */
  constructor(
    private readonly origin: string,
    private readonly headers: Record<string, string> = {},
    private readonly opts: { localAddress?: string } = {},
  ) {}

  cookieHeader(url: URL): string {
    return [...this.cookies.values()]
      .filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  cookie(name: string): string | undefined {
    for (const c of this.cookies.values()) if (c.name === name) return c.value;
    return undefined;
  }

  clearCookies(): void {
    this.cookies.clear();
  }

  /** Sets a header sent with every later request (e.g. a different X-Forwarded-For). */
  setHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  /** Sets a cookie for the whole origin (issue #16: the same device cookie in a browser on another network). */
  setCookie(name: string, value: string): void {
    this.cookies.set(`${name};/`, { name, value, path: '/' });
  }

  /** Drops every cookie but these (issue #16: a new session in the same browser keeps its device cookie). */
  keepOnly(names: string[]): void {
    for (const [key, c] of this.cookies) if (!names.includes(c.name)) this.cookies.delete(key);
  }

  private store(res: Response): void {
    for (const raw of res.headers.getSetCookie()) {
      const [pair, ...attrs] = raw.split(';').map((s) => s.trim());
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      const path = attrs.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const expired = attrs.some((a) => /^expires=thu, 01 jan 1970/i.test(a)) || attrs.some((a) => /^max-age=0$/i.test(a));
      const key = `${name};${path}`;
      if (expired || value === '') this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }

  /** One request, no redirect following. */
  async request(url: string, init: { method?: string; body?: URLSearchParams } = {}): Promise<Page> {
    const target = new URL(url, this.origin);
    const headers: Record<string, string> = { ...this.headers, cookie: this.cookieHeader(target), accept: 'text/html' };
    if (init.body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = this.opts.localAddress
      ? await fetchFrom(this.opts.localAddress, target, { method: init.method ?? 'GET', body: init.body?.toString(), headers })
      : await fetch(target, { method: init.method ?? 'GET', body: init.body, headers, redirect: 'manual' });
    this.store(res);
    return { url: target.toString(), status: res.status, html: await res.text(), headers: res.headers };
  }

  /** Follows redirects within the issuer; stops at the first redirect that leaves it (the RP callback). */
  async follow(url: string, init: { method?: string; body?: URLSearchParams } = {}): Promise<Page> {
    let page = await this.request(url, init);
    for (let hops = 0; hops < 20 && page.status >= 300 && page.status < 400; hops++) {
      const location = new URL(page.headers.get('location')!, page.url);
      if (location.origin !== this.origin) return { ...page, url: location.toString() };
      page = await this.request(location.toString());
    }
    return page;
  }

  /** Submits the form whose action contains `actionPart`, with its hidden fields plus `fields`. */
  async submit(page: Page, actionPart: string, fields: Record<string, string> = {}): Promise<Page> {
    const form = findForm(page.html, actionPart);
    const params = new URLSearchParams({ ...form.hidden, ...fields });
    const target = new URL(form.action, page.url);
    if (form.method === 'GET') {
      target.search = params.toString();
      return this.follow(target.toString());
    }
    return this.follow(target.toString(), { method: 'POST', body: params });
  }
}

export function findForm(html: string, actionPart: string): { action: string; method: 'GET' | 'POST'; hidden: Record<string, string> } {
  const forms = [...html.matchAll(/<form\b([^>]*)action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)].map((m) => [m[0], m[2], m[3], m[1]] as const);
  // a form whose action ends with the part wins (`/interaction/<uid>` vs `/interaction/<uid>/totp`), else one containing it
  const match = forms.find((m) => m[1]!.endsWith(actionPart)) ?? forms.find((m) => m[1]!.includes(actionPart));
  if (!match) throw new Error(`no form with action containing ${actionPart} in:\n${html.slice(0, 2000)}`);
  const hidden: Record<string, string> = {};
  for (const input of match[2]!.matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
    if (name) hidden[name] = decodeEntities(value);
  }
  const method = /method="get"/i.test(match[3] ?? '') ? 'GET' : 'POST';
  return { action: decodeEntities(match[1]!), method, hidden };
}

export const decodeEntities = (s: string) =>
  s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');

/** A fetch (no redirects) whose connection leaves from `localAddress`: global fetch cannot choose its source address. */
function fetchFrom(localAddress: string, url: URL, init: { method: string; body?: string; headers: Record<string, string> }): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method, headers: init.body ? { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) } : init.headers, localAddress, family: localAddress.includes(':') ? 6 : 4 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
        }
        resolve(new Response(res.statusCode === 204 || res.statusCode === 304 ? null : Buffer.concat(chunks), { status: res.statusCode ?? 500, headers }));
      });
    });
    req.on('error', reject);
    if (init.body) req.write(init.body);
    req.end();
  });
}
