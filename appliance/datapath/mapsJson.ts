import type { Kernel } from '../../kernel/kernel.js';
import { MapType } from '../../uapi/mapType.js';
import { isPerCpu, mapEntries } from './mapEntries.js';

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
/** Maps whose contents are not key/value data a summary shows: programs, ring buffers, perf events, queues and stacks, bloom filters. */
const LEFT_OUT: readonly number[] = [
  MapType.BPF_MAP_TYPE_PROG_ARRAY,
  MapType.BPF_MAP_TYPE_RINGBUF,
  MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  MapType.BPF_MAP_TYPE_QUEUE,
  MapType.BPF_MAP_TYPE_STACK,
  MapType.BPF_MAP_TYPE_BLOOM_FILTER,
  MapType.BPF_MAP_TYPE_USER_RINGBUF,
];

/** MapsJson: {"NAME": {"HEXKEY": "HEXVALUE" or ["HEX per CPU", ...]}}. */
export type MapsJson = Record<string, Record<string, string | string[]>>;

/** mapsJson dumps the loaded maps, keys and values in hex, per-CPU values as one string per CPU. */
export function mapsJson(k: Kernel, maps: ReadonlyMap<string, number>): MapsJson {
  const out: MapsJson = {};
  for (const [name, fd] of maps) {
    const obj = k.process.fds.get(fd)?.obj;
    if (!obj || obj.kind !== 'map' || LEFT_OUT.includes(obj.spec.type)) continue;
    const percpu = isPerCpu(obj.spec.type);
    out[name] = Object.fromEntries(mapEntries(k, fd, obj).map(([key, values]) => [hex(key), percpu ? values.map(hex) : hex(values[0])]));
  }
  return out;
}
