import { kfuncHelpers } from './kfuncs/index.js';
import { ArrayMap } from '../maps/array.js';
import { LpmTrie } from '../maps/lpmTrie.js';
import { Desc } from '../maps/descriptor.js';
import { MapType } from '../uapi/mapType.js';
import type { LoadedProgram } from './loadedProgram.js';
import { MapViews, mapHelpers, resolveMapRefs } from '../maps/programSide.js';
import { SlotArray } from '../maps/slotArray.js';
import type { Engine, Machine, Prepared } from '../vm/engine.js';
import { HelperRegistry } from '../vm/helpers.js';
import { interpreter } from '../vm/interpreter/interpreter.js';
import { type AddressSpace, PAGE_SIZE, Perm, type Region } from '../vm/memory.js';
import { MAX_BPF_STACK, MAX_CALL_FRAMES } from '../vm/opcodes.js';
import { callbackHelpers } from './helpers/callbacks.js';
import { netHelpers } from './helpers/net.js';
import { redirectHelpers } from './helpers/redirect.js';
import { skbResizeHelpers } from './helpers/skbResize.js';
import { socketHelpers } from './helpers/socket.js';
import { skbMetaHelpers } from './helpers/skbMeta.js';
import { tunnelHelpers } from './helpers/tunnel.js';
import { syncookieHelpers } from './helpers/syncookie.js';
import { taskHelpers } from './helpers/task.js';
import { CURRENT_TASK_BYTES, currentTaskHelpers } from './helpers/currentTask.js';
import { dynptrHelpers } from './helpers/dynptr.js';
import { kptrHelpers } from './helpers/kptr.js';
import { stringHelpers } from './helpers/strings.js';
import { type Device, type Neighbour, type Route, fibHelpers } from './helpers/fib.js';
import { type PerfRecord, outputHelpers } from './helpers/output.js';
import { monotonicNs, timeHelpers } from './helpers/time.js';
import { timerHelpers } from './helpers/timer.js';
import { type TimerQueue, timerQueueOf } from './timerQueue.js';
import { btfPrintHelpers } from './helpers/btfPrint.js';
import type { SkbPacket } from './skb.js';
import type { CurrentTask } from './currentTask.js';
import { cgroupHelpers } from './helpers/cgroup.js';
import { perfEventHelpers } from './helpers/perfEvent.js';
import { signalHelpers, type SignalCounts } from './helpers/signal.js';
import { tracingHelpers } from './helpers/tracing.js';
import { pidnsHelpers } from './helpers/pidns.js';
import { xfrmHelpers } from './helpers/xfrm.js';
import { percpuLookupHelpers } from './helpers/percpuLookup.js';
import { XDP_TAILROOM, type XdpFrame } from './xdp.js';
import { XDP_PACKET_HEADROOM } from '../uapi/xdp.js';

/** RuntimeOptions: the CPU this runtime emulates, the clock, the random seed, the trace sink. */
export interface RuntimeOptions {
  readonly cpu?: number;
  /** The CPUs the kernel has (nr_cpu_ids: bpf_per_cpu_ptr returns NULL for others); default 1. */
  readonly ncpus?: number;
  /** Nanoseconds for bpf_ktime_get_ns; default a monotonic clock. */
  readonly clock?: () => bigint;
  /** Seed for bpf_get_prandom_u32 (seeded runs repeat exactly). */
  readonly seed?: number;
  /** Receives bpf_trace_printk output, one line per call. */
  readonly trace?: (line: string) => void;
  readonly engine?: Engine;
  /** The devices that exist (bpf_clone_redirect refuses others); default: loopback (1) only. */
  readonly ifindexes?: readonly number[];
  /** The route table bpf_fib_lookup consults (the appliance's config provides it). */
  readonly routes?: readonly Route[];
  /** The resolved neighbours (next hop → MAC) bpf_fib_lookup fills the MACs from. */
  readonly neighbours?: readonly Neighbour[];
  /** The network namespace's cookie bpf_get_netns_cookie returns (net->net_cookie; default 1). */
  readonly netnsCookie?: bigint;
  /** The devices bpf_fib_lookup knows (default: the loopback device, forwarding). */
  readonly devices?: readonly Device[];
  /** The task programs run in: its cgroup ancestry and pid namespace (the appliance reads the host's: kernel/hostTask.ts; default defaultTask()). */
  readonly task?: CurrentTask;
  /**
   * The CPU's stack, context and frame regions when they were mapped already (a worker
   * thread attaching to regions the control plane mapped for it; see `cpuRegions`).
   */
  readonly regions?: CpuRegions;
}

/** RuntimeHost: what a runtime needs of the kernel: the shared memory and the loaded programs (tail calls find them by id). */
export interface RuntimeHost {
  readonly memory: AddressSpace;
  readonly progs: ReadonlyMap<number, LoadedProgram>;
}

/** Where map descriptors keep what a lookup needs (maps/descriptor.ts), for the JIT. */
const DESCRIPTOR_LAYOUT = {
  type: Desc.TYPE,
  valueSize: Desc.VALUE_SIZE,
  maxEntries: Desc.MAX_ENTRIES,
  storage: Desc.STORAGE,
  stride: Desc.STRIDE,
  array: MapType.BPF_MAP_TYPE_ARRAY,
  arrayOfMaps: MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS,
} as const;

/** CpuRegions: one CPU's stack, context struct and packet frame, its table of compiled programs by id (tails), and a page for batch verdict counts (tally, xdpBatch.ts). */
export interface CpuRegions {
  readonly stack: Region;
  readonly ctx: Region;
  readonly frame: Region;
  readonly tails?: Region;
  readonly tally?: Region;
  /** `current` as programs read it through BTF (helpers/currentTask.ts): a task_struct and its pt_regs. */
  readonly task?: Region;
}

/** TAIL_IDS: program ids up to this have a word in a CPU's `tails` region: 1 + the compiled program's index in the JIT's table, or 0. */
const TAIL_IDS = 16384;

/** CPU_REGION_SIZES: the bytes of each region a runtime for one CPU uses (cpuRegions maps them). */
const CPU_REGION_SIZES = {
  stack: () => MAX_CALL_FRAMES * MAX_BPF_STACK,
  ctx: () => 256,
  frame: () => XDP_PACKET_HEADROOM + MAX_PACKET + XDP_TAILROOM,
  tails: () => TAIL_IDS * 4,
  tally: () => PAGE_SIZE,
  task: () => CURRENT_TASK_BYTES,
} as const;

/** cpuRegionsBytes: what cpuRegions takes of an address space for one CPU (each region page-aligned). */
export function cpuRegionsBytes(): number {
  return Object.values(CPU_REGION_SIZES).reduce((n, size) => n + Math.ceil(size() / PAGE_SIZE) * PAGE_SIZE, 0);
}

/** cpuRegions maps the regions a runtime for `cpu` uses (the control plane does this for its workers). */
export function cpuRegions(mem: AddressSpace, cpu: number): CpuRegions {
  const map = (name: keyof typeof CPU_REGION_SIZES) => mem.map(CPU_REGION_SIZES[name](), Perm.RW, `${name}/cpu${cpu}`);
  return { stack: map('stack'), ctx: map('ctx'), frame: map('frame'), tails: map('tails'), tally: map('tally'), task: map('task') };
}

/** MAX_PACKET: the largest packet a runtime frame holds (a jumbo frame and then some). */
export const MAX_PACKET = 16384;

/** Current is the packet being processed: what the context-aware helpers act on. */
export type Current =
  | { kind: 'xdp'; frame: XdpFrame; ctx: number }
  | { kind: 'skb'; pkt: SkbPacket; ctx: number; l2: boolean }
  | { kind: 'none' };

/**
 * HookRuntime runs loaded programs on one emulated CPU the way the kernel runs them: it owns
 * that CPU's stack, context struct and packet frame in the shared memory, builds the
 * helper registry (maps, time, net), and prepares each program once (tail calls reach
 * programs through prog arrays and the same cache).
 */
export class HookRuntime {
  readonly kernel: RuntimeHost;
  readonly cpu: number;
  readonly stack: Region;
  /** 256 bytes for the context struct (xdp_md or __sk_buff). */
  readonly ctx: Region;
  /** The packet frame: headroom, data, tailroom. */
  readonly frame: Region;
  /** Compiled programs by id, for tail calls that stay in WebAssembly (CpuRegions.tails). */
  readonly #tails?: Region;
  /** Where batches count verdicts (CpuRegions.tally). */
  readonly tally?: Region;
  /** `current`'s task_struct and pt_regs (CpuRegions.task). */
  readonly task?: Region;
  readonly helpers: HelperRegistry;
  readonly views: MapViews;
  readonly options: RuntimeOptions;
  current: Current = { kind: 'none' };
  /** The program last prepared here: the one running (hooks prepare right before they run; a tail call prepares its target). */
  running: LoadedProgram | undefined;
  /** Samples from bpf_perf_event_output, oldest first, for a reader to take. */
  readonly perf: PerfRecord[] = [];
  /** Signals bpf_send_signal / bpf_send_signal_thread asked for and bpfbox did not deliver (helpers/signal.ts). */
  readonly signals: SignalCounts = new Map();
  readonly #prepared = new Map<LoadedProgram, Prepared>();
  /** The bpf_timers of this address space (hooks/timerQueue.ts), shared with the other CPUs' runtimes on it. */
  readonly timers: TimerQueue;
  /** The runtime's clock (bpf_ktime_get_ns's), in nanoseconds. */
  readonly clock: () => bigint;
  /** CLOCK_REALTIME less the runtime's clock, taken once: a REALTIME timer's time. */
  readonly #realtimeOffset: bigint;

  constructor(kernel: RuntimeHost, options: RuntimeOptions = {}) {
    this.kernel = kernel;
    this.options = options;
    this.cpu = options.cpu ?? 0;
    const mem = kernel.memory;
    ({
      stack: this.stack,
      ctx: this.ctx,
      frame: this.frame,
      tails: this.#tails,
      tally: this.tally,
      task: this.task,
    } = options.regions ?? cpuRegions(mem, this.cpu));
    this.views = new MapViews(mem);
    this.timers = timerQueueOf(mem);
    this.clock = options.clock ?? monotonicNs;
    this.#realtimeOffset = BigInt(Date.now()) * 1_000_000n - this.clock();
    this.helpers = new HelperRegistry([
      ...mapHelpers(this.views, this.cpu),
      ...timeHelpers(this),
      ...netHelpers(this),
      ...redirectHelpers(this),
      ...skbResizeHelpers(this),
      ...socketHelpers(this),
      ...callbackHelpers(this),
      ...timerHelpers(this),
      ...outputHelpers(this),
      ...fibHelpers(this),
      ...skbMetaHelpers(this),
      ...tunnelHelpers(this),
      ...syncookieHelpers(this),
      ...taskHelpers(this),
      ...currentTaskHelpers(this),
      ...stringHelpers(this),
      ...cgroupHelpers(this),
      ...perfEventHelpers(this),
      ...signalHelpers(this),
      ...tracingHelpers(this),
      ...pidnsHelpers(this),
      ...xfrmHelpers(this),
      ...percpuLookupHelpers(this),
      ...btfPrintHelpers(this),
      ...dynptrHelpers(this),
      ...kptrHelpers(),
      ...kfuncHelpers(this),
    ]);
  }

  /** timerClock: now on a timer's clock (CLOCK_MONOTONIC and CLOCK_BOOTTIME: the runtime's clock; CLOCK_REALTIME: wall time). */
  timerClock(clockid: number): bigint {
    return clockid === 0 ? this.clock() + this.#realtimeOffset : this.clock();
  }

  /**
   * elementOf: the element of the map at `desc` whose value holds `addr` (its key's and value's
   * addresses; an array's key is its index, written to scratch), or undefined when no live
   * element does (a deleted hash element). A walk over the map: timers are few, maps small.
   */
  elementOf(desc: number, addr: number): { key: number; value: number } | undefined {
    const m = this.views.get(desc);
    let found: { key: number; value: number } | undefined;
    m.forEachElem(
      (key, value) => ((found = addr >= value && addr < value + m.valueSize ? { key, value } : undefined), !!found),
      this.cpu,
      this.ctx.start + 240,
    );
    return found;
  }

  /**
   * runTimers fires the bpf_timer callbacks due now (hooks/timerQueue.ts: when that is), with no
   * packet current; how many ran.
   */
  runTimers(): number {
    const saved = this.current;
    this.current = { kind: 'none' };
    try {
      return this.timers.runDue(
        (clockid) => this.timerClock(clockid),
        (desc, value) => this.elementOf(desc, value)?.key,
      );
    } finally {
      this.current = saved;
    }
  }

  /** forget drops what this CPU prepared for a program that is gone (the kernel freed it). */
  forget(prog: LoadedProgram): void {
    const p = this.#prepared.get(prog);
    if (!p) return;
    this.#prepared.delete(prog);
    if (this.#tails && prog.id < TAIL_IDS) this.kernel.memory.i32[(this.#tails.start >> 2) + prog.id] = 0;
    p.dispose?.();
  }

  /** prepare returns the program ready to run on this CPU (once per program). */
  prepare(prog: LoadedProgram): Prepared {
    this.running = prog;
    let p = this.#prepared.get(prog);
    if (!p) {
      const machine: Machine = {
        memory: this.kernel.memory,
        stack: this.stack,
        helpers: this.helpers,
        resolveImm64: resolveMapRefs(prog),
        tailCall: (mapAddr, index) => this.#tailTarget(mapAddr, index),
        packetLoad: (_ctx, off, size) => this.#packetLoad(off, size),
        shared: this,
        tailIndex: this.#tails ? { base: this.#tails.start, limit: TAIL_IDS } : undefined,
        descriptorLayout: DESCRIPTOR_LAYOUT,
        lpmLayout: (desc) => {
          const m = this.views.get(desc);
          return m instanceof LpmTrie ? m.layout() : undefined;
        },
        arrayLayout: (desc) => {
          const m = this.views.get(desc);
          return m instanceof ArrayMap ? m.layout(this.cpu) : undefined;
        },
      };
      p = (this.options.engine ?? interpreter).prepare(prog.program, machine);
      this.#prepared.set(prog, p);
      // a compiled program tail calls reach without JavaScript
      if (this.#tails && p.wasm?.index !== undefined && prog.id < TAIL_IDS)
        this.kernel.memory.i32[(this.#tails.start >> 2) + prog.id] = p.wasm.index + 1;
    }
    return p;
  }

  #tailTarget(mapAddr: number, index: number): Prepared | undefined {
    const m = this.views.get(mapAddr);
    if (!(m instanceof SlotArray)) return undefined;
    const id = m.slotValue(index);
    const prog = id ? this.kernel.progs.get(id) : undefined;
    return prog ? this.prepare(prog) : undefined;
  }

  /** LD_ABS / LD_IND: big-endian bytes at `off` from where the program's packet starts. */
  #packetLoad(off: number, size: 1 | 2 | 4): number | undefined {
    const c = this.current;
    if (c.kind !== 'skb') return undefined;
    // SKF_NET_OFF / SKF_LL_OFF: [SKF_NET_OFF, 0) from the network header, [SKF_LL_OFF, SKF_NET_OFF)
    // from the link-layer header, anything lower nothing (bpf_internal_load_pointer_neg_helper)
    let base = c.pkt.data;
    if (off < 0 && off >= -0x100000) ((base = c.pkt.network), (off += 0x100000));
    else if (off < -0x100000 && off >= -0x200000) ((base = c.pkt.mac), (off += 0x200000));
    else if (off < -0x200000) return undefined;
    if (off < 0 || base + off + size > c.pkt.dataEnd) return undefined;
    const u8 = this.kernel.memory.u8;
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + u8[base + off + i];
    return v;
  }
}
