import { MemoryFault } from './errors.js';

/** Permission bits of a memory region. */
export const Perm = { READ: 1, WRITE: 2, RW: 3 } as const;

/** PAGE_SIZE: the unit regions are aligned to; page 0 is never mapped, so NULL faults. */
export const PAGE_SIZE = 4096;

const WASM_PAGE = 65536;

/** Region is a mapped range of the address space. */
export interface Region {
  readonly start: number;
  readonly size: number;
  readonly perm: number;
  readonly name: string;
}

/**
 * WasmMemory: what the address space's users see of its `WebAssembly.Memory`, declared here so
 * that bpfbox's published declarations need no lib that declares WebAssembly (lib.dom does;
 * Node projects often leave it out).
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(delta: number): number;
}

/** AddressSpaceOptions sizes the shared memory, in bytes. */
export interface AddressSpaceOptions {
  readonly initialBytes?: number;
  readonly maximumBytes?: number;
  /** Share an existing memory (a worker attaching to the appliance's address space). */
  readonly memory?: WasmMemory;
  /** The regions already mapped in `memory`, from the owner's `snapshot()`. */
  readonly regions?: readonly Region[];
}

/**
 * AddressSpaceSnapshot is what a worker thread needs to attach to an address space: the
 * shared memory and the region table. Only the owner (the control plane) maps regions.
 */
export interface AddressSpaceSnapshot {
  readonly memory: WasmMemory;
  readonly regions: readonly Region[];
}

/**
 * AddressSpace is the one emulated kernel address space of DESIGN.md: a shared
 * `WebAssembly.Memory` in which maps, stacks, contexts and packets live at 32-bit addresses.
 *
 *   0x0000_0000 +-------------+  page 0: never mapped (NULL)
 *   0x0000_1000 | region ...  |  regions: page-aligned, each with bounds and permissions
 *               | region ...  |
 *               +-------------+  grows on demand up to maximumBytes
 *
 * `check` is the slow path of every access; engines keep the last region that matched.
 */
/** The least the memory grows by at a time. */
const GROW_STEP = 32 << 20;

export class AddressSpace {
  readonly memory: WasmMemory;
  #regions: Region[] = [];
  #next = PAGE_SIZE;
  #u8: Uint8Array;
  #view: DataView;
  #i32: Int32Array;
  #generation = -1;
  /** The memory's maximum (bytes; 4 GiB for a memory given from elsewhere, whose maximum JavaScript cannot read). */
  readonly #maximum: number;

  constructor(options: AddressSpaceOptions = {}) {
    const initial = Math.ceil((options.initialBytes ?? 16 * 1024 * 1024) / WASM_PAGE);
    const maximum = Math.ceil((options.maximumBytes ?? 1024 * 1024 * 1024) / WASM_PAGE);
    this.memory = options.memory ?? new WebAssembly.Memory({ initial, maximum, shared: true });
    this.#maximum = options.memory ? 0x1_0000_0000 : maximum * WASM_PAGE;
    this.#u8 = new Uint8Array(this.memory.buffer);
    this.#view = new DataView(this.memory.buffer);
    this.#i32 = new Int32Array(this.memory.buffer);
    for (const r of options.regions ?? []) {
      this.#regions.push(Object.freeze({ ...r }));
      this.#next = Math.max(this.#next, r.start + Math.ceil(r.size / PAGE_SIZE) * PAGE_SIZE);
    }
    this.#regions.sort((a, b) => a.start - b.start);
  }

  /** snapshot returns what `new AddressSpace(snapshot)` in another thread needs to attach. */
  snapshot(): AddressSpaceSnapshot {
    return { memory: this.memory, regions: this.#regions.map((r) => ({ ...r })) };
  }

  /**
   * u8 is a byte view of the whole memory. Views are refreshed by `map` and by `refresh`;
   * a thread that did not grow the memory calls `refresh` before it runs (engines do).
   */
  get u8(): Uint8Array {
    return this.#u8;
  }

  /** view is a DataView of the whole memory (see `u8` on refreshing). */
  get view(): DataView {
    return this.#view;
  }

  /** i32 is an Int32Array of the whole memory, for Atomics (see `u8` on refreshing). */
  get i32(): Int32Array {
    return this.#i32;
  }

  /** maximumBytes: the most the memory may grow to (bytes). */
  get maximumBytes(): number {
    return this.#maximum;
  }

  /** unmapped: bytes that `map` can still hand out before the memory reaches its maximum. */
  get unmapped(): number {
    return Math.max(0, this.#maximum - this.#next);
  }

  /** regions lists the mapped regions in address order. */
  get regions(): readonly Region[] {
    return this.#regions;
  }

  /**
   * refresh re-creates the views if the memory grew (in this thread or another). Growth bumps
   * a generation word at address 0, in the page programs can never map, so the check is one
   * atomic load rather than a fetch of `memory.buffer`.
   */
  refresh(): void {
    const gen = Atomics.load(this.#i32, 0);
    if (gen === this.#generation) return;
    const buf = this.memory.buffer;
    if (this.#u8.byteLength !== buf.byteLength) {
      this.#u8 = new Uint8Array(buf);
      this.#view = new DataView(buf);
      this.#i32 = new Int32Array(buf);
    }
    this.#generation = gen;
  }

  /** map reserves a zeroed, page-aligned region of `size` bytes and returns it. */
  map(size: number, perm: number, name: string): Region {
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`map ${name}: size ${size} must be a positive integer`);
    const start = this.#next;
    const end = start + Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    if (end > 0x1_0000_0000) throw new RangeError(`map ${name}: the 32-bit address space is full`);
    if (end > this.#maximum)
      throw new RangeError(
        `map ${name}: ${size} bytes do not fit in the address space (${this.unmapped} of its ${this.#maximum} bytes are left)`,
      );
    const have = this.memory.buffer.byteLength / WASM_PAGE;
    const need = Math.ceil(end / WASM_PAGE) - have;
    if (need > 0) {
      // in steps of at least GROW_STEP (growing a shared memory is slow), within the maximum
      this.memory.grow(Math.max(need, Math.min(GROW_STEP / WASM_PAGE, this.#maximum / WASM_PAGE - have)));
      const i32 = new Int32Array(this.memory.buffer);
      Atomics.add(i32, 0, 1); // tell every thread's refresh that the memory grew
    }
    this.#next = end;
    this.refresh();
    const region: Region = Object.freeze({ start, size, perm, name });
    this.#regions.push(region);
    // no zeroing: memory is zero when it is grown, and addresses are never handed out twice
    return region;
  }

  /** unmap removes a region; later accesses to it fault. Its pages are not reused. */
  unmap(region: Region): void {
    this.#regions = this.#regions.filter((r) => r !== region);
  }

  /** find returns the region holding [addr, addr+size) with permission `perm`, if any. */
  find(addr: number, size: number, perm: number): Region | undefined {
    const rs = this.#regions;
    let lo = 0;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = rs[mid];
      if (addr < r.start) hi = mid - 1;
      else if (addr >= r.start + r.size) lo = mid + 1;
      else return addr + size <= r.start + r.size && (r.perm & perm) === perm ? r : undefined;
    }
    return undefined;
  }

  /** check returns the region for an access or throws a MemoryFault naming `pc` and the address. */
  check(pc: number, addr: number, size: number, perm: number): Region {
    const r = this.find(addr, size, perm);
    if (!r) throw new MemoryFault(pc, addr, size, perm & Perm.WRITE ? 'write' : 'read');
    return r;
  }
}
