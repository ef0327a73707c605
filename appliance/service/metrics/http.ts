import { type Server, createServer } from 'node:http';
import { type OpenMetricsContentType, Registry } from 'prom-client';

/** A metric as a Registry holds it: get(), and the string form prom-client's Histogram also has. */
interface Held {
  name: string;
  type?: string;
  get(): Promise<{ name: string } & Record<string, unknown>>;
  getForPromString?(): Promise<{ name: string } & Record<string, unknown>>;
}

/**
 * wantsOpenMetrics: whether a scraper's Accept header asks for OpenMetrics
 * (`application/openmetrics-text`, as Prometheus sends first since 2.5) over text 0.0.4.
 */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => {
    const [type, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return type.trim().toLowerCase() === 'application/openmetrics-text' && (!q || Number(q.slice(2)) > 0);
  });
}

/**
 * openMetricsText: `registry` in OpenMetrics 1.0.0. prom-client renames a counter family in
 * place when its registry is OpenMetrics (`x_total` becomes `x`, samples get `_total` back),
 * which would leave the text format without `_total`; so the families are wrapped, per scrape,
 * in a registry of their own and the renaming happens on the wrappers.
 */
export async function openMetricsText(registry: Registry): Promise<string> {
  const om = new Registry<OpenMetricsContentType>();
  om.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const strip = (n: string) => n.replace(/_total$/, '');
  for (const m of registry.getMetricsAsArray() as unknown as Held[]) {
    const counter = m.type === 'counter';
    const rename = async (p: Promise<{ name: string } & Record<string, unknown>>) => {
      const r = await p;
      return counter ? { ...r, name: strip(r.name) } : r;
    };
    const w: Held = {
      name: counter ? strip(m.name) : m.name,
      type: m.type,
      get: () => rename(m.get()),
      getForPromString: m.getForPromString ? () => rename(m.getForPromString!()) : undefined,
    };
    if (!w.getForPromString) delete w.getForPromString;
    om.registerMetric(w as never);
  }
  return om.metrics();
}

/**
 * serveMetrics serves the registry at GET /metrics on `addr` (HOST:PORT; port 0 picks one)
 * and resolves with the server and the address it listens on. A scraper that accepts
 * OpenMetrics gets it (application/openmetrics-text; version=1.0.0), any other the text
 * format 0.0.4.
 */
export async function serveMetrics(registry: Registry, addr: string): Promise<{ server: Server; url: string }> {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(addr.slice(i + 1));
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('bpfbox: metrics are at /metrics\n');
      return;
    }
    const om = wantsOpenMetrics(req.headers.accept);
    (om ? openMetricsText(registry) : registry.metrics()).then(
      (text) => res.writeHead(200, { 'content-type': om ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE }).end(text),
      (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`),
    );
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  const a = server.address();
  const bound = typeof a === 'object' && a ? a.port : port;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics` };
}
