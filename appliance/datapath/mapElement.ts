import { type Formatted, type MapBtf, formatValue, toJson } from '../../maps/typeDesc.js';

/** ElementLayout: what rendering one map element needs: the value's size, one value per CPU or one, and the BTF types. */
export interface ElementLayout {
  bytes_value: number;
  percpu: boolean;
  ncpus: number;
  btf?: MapBtf;
}

/**
 * MapElementJson is one element as `bpftool map dump -j` prints it: key and value as hex byte
 * strings (a per-CPU map's values as `values: [{cpu, value}]`), and with BTF a `formatted`
 * copy whose numbers are bigints (u64s print exactly).
 */
export type MapElementJson = {
  key: string[];
  value?: string[];
  values?: { cpu: number; value: string[] }[];
  formatted?: Record<string, Formatted>;
};

/** jsonBytes is bpftool's JSON form of bytes: ["0x01", …]. */
export const jsonBytes = (b: Uint8Array) => [...b].map((x) => `0x${x.toString(16).padStart(2, '0')}`);

/** perCpuValues splits a lookup's value buffer into one value per CPU (each padded to 8 bytes in the buffer, as the kernel lays it out). */
export function perCpuValues(m: ElementLayout, value: Uint8Array): Uint8Array[] {
  if (!m.percpu) return [value];
  const step = (m.bytes_value + 7) & ~7;
  return Array.from({ length: m.ncpus }, (_, cpu) => value.subarray(cpu * step, cpu * step + m.bytes_value));
}

/** formattedOf is bpftool's typed form of an element ({key, value} or {key, values: [{cpu, value}]}), when BTF describes the map. */
export function formattedOf(m: ElementLayout, key: Uint8Array, values: readonly Uint8Array[]): Record<string, Formatted> | undefined {
  const b = m.btf;
  if (!b?.key || !b.value) return undefined;
  const k = formatValue(b.key, key);
  if (!m.percpu) return { key: k, value: formatValue(b.value, values[0]) };
  return { key: k, values: values.map((v, cpu) => ({ cpu: BigInt(cpu), value: formatValue(b.value!, v) })) };
}

/** elementJson is one element of `map dump -j` from a key and its value per CPU (one for a map that is not per-CPU). */
export function elementJson(m: ElementLayout, key: Uint8Array, values: readonly Uint8Array[]): MapElementJson {
  const f = formattedOf(m, key, values);
  const v = m.percpu ? { values: values.map((x, cpu) => ({ cpu, value: jsonBytes(x) })) } : { value: jsonBytes(values[0]) };
  return { key: jsonBytes(key), ...v, ...(f ? { formatted: f } : {}) };
}

const hex = (bytes: readonly string[]) => bytes.map((b) => b.slice(2)).join('');

/** keyText: an element's key for a one-line summary: typed (compact JSON) where BTF describes it, else its bytes in hex. */
export const keyText = (e: MapElementJson): string => (e.formatted ? toJson(e.formatted.key) : hex(e.key));

/**
 * valueText: an element's value for a one-line summary, typed where BTF describes it: a
 * per-CPU value summed over the CPUs (typed integers added member by member; hex values as
 * little-endian u64 counters), saying so.
 */
export function valueText(e: MapElementJson): string {
  if (!e.values) return e.formatted ? toJson(e.formatted.value) : hex(e.value!);
  const cpus = ` (summed over ${e.values.length} CPUs)`;
  const typed = e.formatted?.values as { value: Formatted }[] | undefined;
  if (typed) return toJson(typed.map((v) => v.value).reduce(addFormatted)) + cpus;
  const words = e.values.map((v) => Buffer.from(hex(v.value), 'hex'));
  if (words[0].length % 8) return words.map((w) => w.toString('hex')).join(' ');
  const sum = Buffer.alloc(words[0].length);
  for (const w of words)
    for (let o = 0; o < w.length; o += 8) sum.writeBigUInt64LE(BigInt.asUintN(64, sum.readBigUInt64LE(o) + w.readBigUInt64LE(o)), o);
  return sum.toString('hex') + cpus;
}

/** addFormatted adds two typed values of one type: integers add, structs and arrays member by member, anything else (an enum name, raw bytes) is kept from the first. */
function addFormatted(a: Formatted, b: Formatted): Formatted {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a + b;
  if (Array.isArray(a) && Array.isArray(b) && typeof a[0] !== 'string') return a.map((x, i) => addFormatted(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b))
    return Object.fromEntries(Object.entries(a).map(([k, x]) => [k, addFormatted(x, b[k])]));
  return a;
}
