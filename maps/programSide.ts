import type { Machine } from '../vm/engine.js';
import { type Helper, HelperRegistry, negErrno as neg } from '../vm/helpers.js';
import { createMachine } from '../vm/machine.js';
import type { AddressSpace, Region } from '../vm/memory.js';
import { Pseudo } from '../vm/opcodes.js';
import { ArrayMap } from './array.js';
import type { BpfMap } from './bpfMap.js';
import { Errno } from '../uapi/errno.js';
import { attachMap } from './factory.js';
import { RingBuf, ringbufSubmit } from './ringbuf.js';
import { ringbufDynptrHelpers } from './ringbufDynptr.js';

/**
 * MapViews finds the map whose descriptor is at an address, attaching a view the first time:
 * what a helper does with the `struct bpf_map *` in r1. One per thread.
 */
export class MapViews {
  readonly space: AddressSpace;
  readonly #views = new Map<number, BpfMap>();

  constructor(space: AddressSpace) {
    this.space = space;
  }

  get(desc: number): BpfMap {
    let m = this.#views.get(desc);
    if (!m) {
      m = attachMap(this.space, desc);
      this.#views.set(desc, m);
    }
    return m;
  }
}

/**
 * mapHelpers are the map helpers with the kernel's ids (include/uapi/linux/bpf.h):
 * `bpf_map_lookup_elem` (1) returns the value's address or NULL, `bpf_map_update_elem` (2),
 * `bpf_map_delete_elem` (3), `bpf_map_push_elem` (87), `bpf_map_pop_elem` (88),
 * `bpf_map_peek_elem` (89) return 0 or a negative errno, and the ring buffer helpers
 * `bpf_ringbuf_output` (130), `_reserve` (131), `_submit` (132), `_discard` (133),
 * `_query` (134), and their dynptr flavour (ringbufDynptr.ts). `cpu` is the CPU the calling thread emulates (per-CPU slots).
 */
export function mapHelpers(views: MapViews, cpu = 0): Helper[] {
  const m = (r1: bigint) => views.get(Number(r1));
  const a = (r: bigint) => Number(BigInt.asUintN(32, r));
  return [
    {
      id: 1,
      name: 'bpf_map_lookup_elem',
      fn: (r1, r2) => BigInt(m(r1).lookup(a(r2), cpu)),
      fn32: (r1, r2) => views.get(r1 >>> 0).lookup(r2 >>> 0, cpu),
      ret: 'u32',
    },
    {
      id: 2,
      name: 'bpf_map_update_elem',
      fn: (r1, r2, r3, r4) => BigInt.asUintN(64, BigInt(m(r1).update(a(r2), a(r3), Number(r4), cpu))),
      fn32: (r1, r2, r3, r4) => views.get(r1 >>> 0).update(r2 >>> 0, r3 >>> 0, r4 >>> 0, cpu),
      ret: 's32',
    },
    {
      id: 3,
      name: 'bpf_map_delete_elem',
      fn: (r1, r2) => BigInt.asUintN(64, BigInt(m(r1).delete(a(r2)))),
      fn32: (r1, r2) => views.get(r1 >>> 0).delete(r2 >>> 0),
      ret: 's32',
    },
    { id: 87, name: 'bpf_map_push_elem', fn: (r1, r2, r3) => BigInt.asUintN(64, BigInt(m(r1).push(a(r2), Number(r3)))) },
    { id: 88, name: 'bpf_map_pop_elem', fn: (r1, r2) => BigInt.asUintN(64, BigInt(m(r1).pop(a(r2)))) },
    { id: 89, name: 'bpf_map_peek_elem', fn: (r1, r2) => BigInt.asUintN(64, BigInt(m(r1).peek(a(r2)))) },
    {
      id: 130,
      name: 'bpf_ringbuf_output',
      fn: (r1, r2, r3) => {
        const rb = m(r1);
        return rb instanceof RingBuf ? BigInt.asUintN(64, BigInt(rb.output(a(r2), Number(r3)))) : neg(Errno.EINVAL);
      },
    },
    {
      id: 131,
      name: 'bpf_ringbuf_reserve',
      fn: (r1, r2) => {
        const rb = m(r1);
        return rb instanceof RingBuf ? BigInt(rb.reserve(Number(r2))) : 0n;
      },
    },
    { id: 132, name: 'bpf_ringbuf_submit', fn: (r1) => (ringbufSubmit(views.space, a(r1), false), 0n) },
    { id: 133, name: 'bpf_ringbuf_discard', fn: (r1) => (ringbufSubmit(views.space, a(r1), true), 0n) },
    {
      id: 134,
      name: 'bpf_ringbuf_query',
      fn: (r1) => {
        const rb = m(r1);
        return rb instanceof RingBuf ? BigInt(rb.available) : 0n;
      },
    },
    ...ringbufDynptrHelpers(views),
  ];
}

/** ProgramMaps: a loaded program's maps and the fds its bytecode names them by (parallel lists). */
export interface ProgramMaps {
  readonly maps: readonly { readonly map: BpfMap }[];
  readonly mapFds: readonly number[];
}

/**
 * resolveMapRefs returns the Machine's `resolveImm64` for a loaded program: an `lddw` with
 * BPF_PSEUDO_MAP_FD loads the map's descriptor address, one with BPF_PSEUDO_MAP_VALUE the
 * address of its value (array index 0) plus the offset. The fds are the loading process's,
 * kept in `prog.mapFds`. Every array the program refers to is marked written: from here on it
 * may change its values.
 */
export function resolveMapRefs(prog: ProgramMaps): (src: number, imm: bigint) => bigint {
  // a program made ready to run may write its arrays' values (ArrayMap.written)
  for (const { map } of prog.maps) if (map instanceof ArrayMap) map.markWritten();
  return (src, imm) => {
    const fd = Number(BigInt.asUintN(32, imm));
    const i = prog.mapFds.indexOf(fd);
    const obj = prog.maps[i];
    if (!obj) throw new RangeError(`lddw: fd ${fd} is not one of the program's maps`);
    if (src === Pseudo.BPF_PSEUDO_MAP_FD) return BigInt(obj.map.desc);
    if (src === Pseudo.BPF_PSEUDO_MAP_VALUE && obj.map instanceof ArrayMap) {
      return BigInt(obj.map.valueAddr(0, 0) + Number(BigInt.asUintN(32, imm >> 32n)));
    }
    throw new RangeError(`lddw: pseudo source ${src} is not supported`);
  };
}

/** MachineFor: what `machineFor` needs besides the kernel's memory. */
export interface MachineForOptions {
  readonly cpu?: number;
  readonly stack?: Region;
}

/**
 * machineFor builds a Machine on which a loaded program can run: the kernel's memory, the
 * map helpers for CPU `cpu`, and `lddw` map references resolved to this kernel's maps.
 */
export function machineFor(memory: AddressSpace, prog: ProgramMaps, options: MachineForOptions = {}): Machine {
  const views = new MapViews(memory);
  return createMachine({
    memory,
    stack: options.stack,
    helpers: new HelperRegistry(mapHelpers(views, options.cpu ?? 0)),
    resolveImm64: resolveMapRefs(prog),
    name: `stack/cpu${options.cpu ?? 0}`,
  });
}
