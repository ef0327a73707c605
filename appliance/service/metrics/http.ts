import { type Server, createServer } from 'node:http';
import type { Registry } from 'prom-client';

/**
 * serveMetrics serves the registry at GET /metrics on `addr` (HOST:PORT; port 0 picks one)
 * and resolves with the server and the address it listens on.
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
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
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
