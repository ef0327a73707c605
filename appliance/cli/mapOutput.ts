import { mapTypeName } from '../../uapi/mapType.js';
import { type MapBtf, toJson } from '../../maps/typeDesc.js';
import { elementJson, formattedOf, jsonBytes, perCpuValues } from '../datapath/mapElement.js';

/** MapShow is what `map show` prints for one map (bpftool's fields and spellings). */
export interface MapShow {
  id: number;
  type: number;
  name: string;
  flags: number;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  bytes_memlock: number;
  frozen: boolean;
  pinned: string[];
  percpu: boolean;
  ncpus: number;
  /** Key and value types from BTF, when the map has them. */
  btf?: MapBtf;
}

/** fprintHex prints bytes as bpftool does: groups of 8, 16 to a line. */
export function fprintHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) {
    const sep = i === 0 ? '' : i % 16 === 0 ? '\n' : i % 8 === 0 ? '  ' : ' ';
    s += sep + b[i].toString(16).padStart(2, '0');
  }
  return s;
}

export { jsonBytes };

/** showPlain prints `map show` for one map. */
export function showPlain(m: MapShow): string {
  const lines = [
    `${m.id}: ${mapTypeName(m.type)}  name ${m.name}  flags 0x${m.flags.toString(16)}`,
    `\tkey ${m.bytes_key}B  value ${m.bytes_value}B  max_entries ${m.max_entries}  memlock ${m.bytes_memlock}B`,
  ];
  for (const p of m.pinned) lines.push(`\tpinned ${p}`);
  if (m.frozen) lines.push('\tfrozen');
  return lines.join('\n');
}

/** showJson is `map show -j` for one map. */
export function showJson(m: MapShow): Record<string, unknown> {
  const o: Record<string, unknown> = {
    id: m.id,
    type: mapTypeName(m.type),
    name: m.name,
    flags: m.flags,
    bytes_key: m.bytes_key,
    bytes_value: m.bytes_value,
    max_entries: m.max_entries,
    bytes_memlock: m.bytes_memlock,
    frozen: m.frozen ? 1 : 0,
  };
  if (m.pinned.length) o.pinned = m.pinned;
  return o;
}

/** entryPlain prints one key/value pair as `map dump` and `map lookup` do. */
export function entryPlain(m: MapShow, key: Uint8Array, value: Uint8Array): string {
  if (m.percpu) {
    const step = (m.bytes_value + 7) & ~7;
    const out: string[] = [];
    if (m.bytes_key) out.push('key:', fprintHex(key));
    for (let cpu = 0; cpu < m.ncpus; cpu++) {
      const v = value.subarray(cpu * step, cpu * step + m.bytes_value);
      out.push(`value (CPU ${String(cpu).padStart(2, '0')}):${m.bytes_value > 16 ? '\n' : ' '}${fprintHex(v)}`);
    }
    return out.join('\n');
  }
  const breakNames = m.bytes_key > 16 || m.bytes_value > 16;
  const single = m.bytes_key + m.bytes_value <= 24 && !breakNames;
  let s = '';
  if (m.bytes_key) s += `key:${breakNames ? '\n' : ' '}${fprintHex(key)}${single ? '  ' : '\n'}`;
  if (m.bytes_value) s += `value:${breakNames ? '\n' : ' '}${fprintHex(value)}`;
  return s;
}

/** formatted is bpftool's typed form of an element, when BTF describes the map (value as `lookup` gives it: per-CPU values in one buffer). */
export const formatted = (m: MapShow, key: Uint8Array, value: Uint8Array) => formattedOf(m, key, perCpuValues(m, value));

/** entryJson is one element of `map dump -j` (per-CPU maps list each CPU's value; BTF adds "formatted"). */
export const entryJson = (m: MapShow, key: Uint8Array, value: Uint8Array) => elementJson(m, key, perCpuValues(m, value));

/**
 * btfDumpPlain is what plain `map dump` prints for a map with BTF: the typed elements as
 * indented JSON where an object in an array opens on the line of the `[` or of the `},`
 * before it, as bpftool's JSON writer prints it.
 */
export function btfDumpPlain(m: MapShow, entries: readonly [Uint8Array, Uint8Array][]): string {
  const doc = toJson(
    entries.map(([k, v]) => formatted(m, k, v)),
    4,
  );
  return doc.replace(/\[\n +\{/g, '[{').replace(/\},\n +\{/g, '},{');
}
