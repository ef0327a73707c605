import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { type Config, ConfigError } from '../config/config.js';
import { UserError } from '../../uapi/userError.js';
import { isFsError, fileError } from '../../uapi/fileError.js';

/**
 * The checks `serve --config` makes before it loads, pins or listens on anything, so that a
 * mistake is one line at start (naming the flag, or the config file, line and field) and not
 * an uncaught error once the service runs.
 */

/** ListenAddr: where the metrics server listens. */
export interface ListenAddr {
  readonly host: string;
  readonly port: number;
  /** The host is the wildcard address (0.0.0.0 or ::): every interface, so anyone who reaches the machine. */
  readonly public: boolean;
}

/** WILDCARD: the hosts that mean every interface (INADDR_ANY, in6addr_any). */
const WILDCARD = /^(0\.0\.0\.0|(0{0,4}:){2,7}0{0,4})$/;

/**
 * parseListenAddr reads HOST:PORT (`127.0.0.1:9435`, `[::1]:9435`); anything else is a
 * UserError naming `where` (`--metrics-addr`, `c.yaml: metrics.addr`). The host is required,
 * as the config schema requires it: `:9435` (Node's every interface) is refused, and every
 * interface is said explicitly (`0.0.0.0:9435`, `[::]:9435`) and then `public`.
 */
export function parseListenAddr(addr: string, where: string): ListenAddr {
  const i = addr.lastIndexOf(':');
  const host = i < 0 ? '' : addr.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = i < 0 ? '' : addr.slice(i + 1);
  if (i < 0 || !/^\d{1,5}$/.test(port) || Number(port) > 65535 || /[\s/[\]]/.test(host))
    throw new UserError(`${where} ${addr}: expected HOST:PORT with a port from 0 to 65535 (e.g. 127.0.0.1:9435)`, { field: where });
  if (host === '')
    throw new UserError(
      `${where} ${addr}: no host: give 127.0.0.1:${port} for this machine only, or 0.0.0.0:${port} (or [::]:${port}) for every interface`,
      { field: where },
    );
  return { host, port: Number(port), public: WILDCARD.test(host) };
}

/** LISTEN_REASONS: why listen(2) failed, by errno, in words that say what to do. */
const LISTEN_REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use (another process listens there; choose another port)',
  EADDRNOTAVAIL: 'address not available (no interface of this machine has that address)',
  EACCES: 'permission denied (ports below 1024 need root)',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'host name lookup failed',
};

/** listenError turns a failed listen on `addr` into a UserError naming `where`; any other error is returned as it is. */
export function listenError(e: unknown, where: string, addr: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (!(e instanceof Error) || code === undefined || !(code in LISTEN_REASONS)) return e;
  return new UserError(`${where} ${addr}: ${LISTEN_REASONS[code]}`, { field: where, cause: e });
}

/**
 * checkCaptures refuses a source whose capture cannot be read (missing, a directory,
 * unreadable), naming the config file, the line and column of the entry, its field and the
 * path (`c.yaml:7:18: sources[0].captures[0]: /x/tarffic.pcap: no such file or directory`).
 */
export function checkCaptures(cfg: Config, file: string): void {
  let lines: LineCounter | undefined;
  let doc: ReturnType<typeof parseDocument> | undefined;
  let stdin: string | undefined;
  cfg.sources?.forEach((s, i) =>
    s.captures.forEach((path, j) => {
      let bad: unknown;
      try {
        if (path === '-') {
          // standard input (`tcpdump -w - | bpfbox serve --config c.yaml`): read once, by one source
          const field = `sources[${i}].captures[${j}]`;
          if ((s.mode ?? 'once') !== 'once')
            throw new ConfigError(`${file}: ${field}: - (standard input) can be read once only: mode once, not ${s.mode}`, { file, field });
          if (stdin) throw new ConfigError(`${file}: ${field}: - (standard input) is already ${stdin}`, { file, field });
          stdin = field;
          return;
        }
        if (statSync(path).isDirectory()) bad = Object.assign(new Error(`EISDIR: ${path}`), { code: 'EISDIR', path });
        else closeSync(openSync(path, 'r'));
      } catch (e) {
        if (!isFsError(e)) throw e;
        bad = e;
      }
      if (bad === undefined) return;
      if (!doc) {
        lines = new LineCounter();
        doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lines });
      }
      const node = doc.getIn(['sources', i, 'captures', j], true) as { range?: [number, number, number] } | undefined;
      const pos = node?.range ? lines!.linePos(node.range[0]) : undefined;
      const field = `sources[${i}].captures[${j}]`;
      const why = (fileError('', path, bad, 'a pcap or pcapng file') as Error).message.trimStart();
      throw new ConfigError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${field}: ${why}`, {
        file,
        line: pos?.line,
        field,
        cause: bad,
      });
    }),
  );
}
