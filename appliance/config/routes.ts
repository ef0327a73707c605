import { readFileSync } from 'node:fs';
import { fileError } from '../../uapi/fileError.js';
import { isIP } from 'node:net';
import type { Device, Neighbour, Route } from '../../hooks/helpers/fib.js';
import { UserError } from '../../uapi/userError.js';

/** RouteTable is what bpf_fib_lookup consults: routes and resolved neighbours. */
export interface RouteTable {
  readonly routes: Route[];
  readonly neighbours: Neighbour[];
  /** The devices that exist (bpf_fib_lookup: ENODEV for others; FWD_DISABLED where forwarding is off). */
  readonly devices?: Device[];
}

/** RouteTableError: the route table file is unreadable or a field is wrong (the message names it, as do `file` and `field`). */
export class RouteTableError extends UserError {}

const KINDS = ['unicast', 'local', 'blackhole', 'unreachable', 'prohibit'];
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/**
 * readRouteTable reads the `--routes FILE` table: JSON `{"routes": [{dst, ifindex, gateway?,
 * src?, smac?, mtu?, metric?, kind?}], "neighbours": [{ip, mac}], "devices": [{ifindex,
 * forwarding?}]}`, the shape `ip route`, `ip neigh` and `ip link` describe (devices default to
 * the loopback device, 1, forwarding). Every field is checked; an error names the file and the field.
 * (The appliance's configuration file will carry the same table; see config/.)
 */
export function readRouteTable(file: string): RouteTable {
  const fail = (where: string, why: string, cause?: unknown): never => {
    throw new RouteTableError(`${file}: ${where}: ${why}`, { file, field: where, cause });
  };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw fileError('route table', file, e, 'a JSON file of routes and neighbours');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return fail('(file)', (e as Error).message, e);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return fail('(top)', 'expected an object with "routes" and "neighbours"');
  const top = doc as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== 'routes' && k !== 'neighbours' && k !== 'devices') fail(k, 'unknown key');
  const list = (k: string): Record<string, unknown>[] => {
    const v = top[k] ?? [];
    if (!Array.isArray(v)) return fail(k, 'expected an array');
    return v.map((e, i) =>
      typeof e === 'object' && e !== null && !Array.isArray(e) ? (e as Record<string, unknown>) : fail(`${k}[${i}]`, 'expected an object'),
    );
  };
  const str = (
    o: Record<string, unknown>,
    where: string,
    k: string,
    ok: (s: string) => boolean,
    what: string,
    optional = false,
  ): string | undefined => {
    const v = o[k];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string' || !ok(v)) return fail(`${where}.${k}`, `${JSON.stringify(v)} is not ${what}`);
    return v;
  };
  const num = (o: Record<string, unknown>, where: string, k: string, max: number, optional = true): number | undefined => {
    const v = o[k];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
      return fail(`${where}.${k}`, `${JSON.stringify(v)} is not an integer from 0 to ${max}`);
    return v;
  };
  const prefix = (s: string) => {
    const [a, len, more] = s.split('/');
    const family = isIP(a);
    return family !== 0 && more === undefined && (len === undefined || (/^\d+$/.test(len) && Number(len) <= (family === 4 ? 32 : 128)));
  };
  const routes = list('routes').map((o, i): Route => {
    const w = `routes[${i}]`;
    for (const k of Object.keys(o))
      if (!['dst', 'ifindex', 'gateway', 'src', 'smac', 'mtu', 'metric', 'kind'].includes(k)) fail(`${w}.${k}`, 'unknown key');
    const dst = str(o, w, 'dst', prefix, 'an address/prefix')!;
    const gateway = str(o, w, 'gateway', (s) => isIP(s) === isIP(dst.split('/')[0]), "an address of the destination's family", true);
    const src = str(o, w, 'src', (s) => isIP(s) === isIP(dst.split('/')[0]), "an address of the destination's family", true);
    const kind = str(o, w, 'kind', (s) => KINDS.includes(s), `one of ${KINDS.join(', ')}`, true) as Route['kind'];
    return {
      dst,
      ifindex: num(o, w, 'ifindex', 0xffffffff, false)!,
      gateway,
      src,
      smac: str(o, w, 'smac', (s) => MAC.test(s), 'a MAC address', true),
      mtu: num(o, w, 'mtu', 65535),
      metric: num(o, w, 'metric', 0xffffffff),
      kind,
    };
  });
  const neighbours = list('neighbours').map((o, i): Neighbour => {
    const w = `neighbours[${i}]`;
    for (const k of Object.keys(o)) if (k !== 'ip' && k !== 'mac') fail(`${w}.${k}`, 'unknown key');
    return { ip: str(o, w, 'ip', (s) => isIP(s) !== 0, 'an address')!, mac: str(o, w, 'mac', (s) => MAC.test(s), 'a MAC address')! };
  });
  const devices =
    top.devices === undefined
      ? undefined
      : list('devices').map((o, i): Device => {
          const w = `devices[${i}]`;
          for (const k of Object.keys(o)) if (k !== 'ifindex' && k !== 'forwarding') fail(`${w}.${k}`, 'unknown key');
          if (o.forwarding !== undefined && typeof o.forwarding !== 'boolean')
            fail(`${w}.forwarding`, `${JSON.stringify(o.forwarding)} is not true or false`);
          return { ifindex: num(o, w, 'ifindex', 0xffffffff, false)!, forwarding: (o.forwarding as boolean | undefined) ?? true };
        });
  return { routes, neighbours, devices };
}
