/**
 * TimerQueue: the bpf_timer objects (kernel/bpf/helpers.c: struct bpf_hrtimer) of one address
 * space, and the queue of those started, ordered by expiry on the runtime's clock.
 *
 * Where a timer lives: the kernel keeps a pointer to its bpf_hrtimer in the map value's
 * `struct bpf_timer` (16 bytes); bpfbox writes a timer id (u32, never 0) in the first 4 bytes
 * and keeps the timer here under the `struct bpf_timer`'s address. A timer is the element's
 * as long as both hold: the element is still in its map (a deleted hash element is gone) and
 * its bytes still hold the id (an update of the element from userspace or a program copies
 * the new value over them, as bpf_obj_free_fields cancels and frees the timer of an updated
 * element). A timer found stale is dropped, never fired: a deleted element cancels its timer.
 *
 * When a callback runs: the kernel runs it in softirq once its hrtimer expires. bpfbox has no
 * interrupts; due callbacks run at the next point the emulated kernel gets control: before a
 * test run's program runs and after it ends, and when the bpf(2) door takes a command (a map
 * dump after a wait sees what the kernel's would). "Due" is judged on the runtime's clock (the
 * one bpf_ktime_get_ns reads; a deterministic replay's is the packet timestamps). Each due timer
 * fires at most once per pass (a callback that re-arms itself for "now" runs in the next pass),
 * so no callback loops forever. Timers due later stay pending: nothing advances time by itself.
 */
export interface Timer {
  readonly id: number;
  /** The address of the `struct bpf_timer`, the value's, and the map's descriptor. */
  readonly addr: number;
  readonly value: number;
  readonly map: number;
  /** CLOCK_MONOTONIC, CLOCK_REALTIME or CLOCK_BOOTTIME (bpf_timer_init's flags). */
  readonly clockid: number;
  /** bpf_timer_set_callback's function: the value `lddw BPF_PSEUDO_FUNC` gave, and how to call it. */
  callback?: { readonly fn: bigint; readonly call: (fn: bigint, ...args: bigint[]) => bigint };
  /** When it fires (clock nanoseconds), while started; the order it was started in (ties). */
  expires?: bigint;
  seq?: number;
}

/** ElementKey: the key of a live element whose value is at `value`, if the element is still in its map. */
export type ElementKey = (map: number, value: number) => number | undefined;

export class TimerQueue {
  readonly #byAddr = new Map<number, Timer>();
  #nextId = 1;
  #seq = 0;
  /** The timer whose callback runs now (hrtimer_running), for bpf_timer_cancel's -EDEADLK. */
  running?: Timer;
  readonly #space: { readonly i32: Int32Array };

  constructor(space: { readonly i32: Int32Array }) {
    this.#space = space;
  }

  /** get: the live timer of the `struct bpf_timer` at `addr` (undefined: not initialised, or its element gone). */
  get(addr: number): Timer | undefined {
    const t = this.#byAddr.get(addr);
    if (t && this.#space.i32[addr >>> 2] !== t.id) {
      this.#byAddr.delete(addr);
      return undefined;
    }
    return t;
  }

  /** create: a timer for the `struct bpf_timer` at `addr`, its id written there. */
  create(addr: number, value: number, map: number, clockid: number): Timer {
    const id = this.#nextId++ & 0x7fffffff || this.#nextId++;
    const t: Timer = { id, addr, value, map, clockid };
    this.#byAddr.set(addr, t);
    this.#space.i32[addr >>> 2] = id;
    return t;
  }

  /** start: arm (or re-arm) `t` to fire at `expires`. */
  start(t: Timer, expires: bigint): void {
    t.expires = expires;
    t.seq = this.#seq++;
  }

  /** cancel: disarm `t`; whether it was armed (hrtimer_cancel's result). */
  cancel(t: Timer): boolean {
    const armed = t.expires !== undefined;
    t.expires = undefined;
    return armed;
  }

  /** pending: how many live timers are armed. */
  get pending(): number {
    let n = 0;
    for (const addr of [...this.#byAddr.keys()]) if (this.get(addr)?.expires !== undefined) n++;
    return n;
  }

  /**
   * runDue fires, in expiry order, each armed timer due by `now(clockid)` at the time of the call
   * whose element is still live: callback(map, key, value), its return value ignored (bpf_timer_cb).
   */
  runDue(now: (clockid: number) => bigint, elementKey: ElementKey): number {
    const due: Timer[] = [];
    for (const addr of [...this.#byAddr.keys()]) {
      const t = this.get(addr);
      if (t?.expires !== undefined && t.expires <= now(t.clockid)) due.push(t);
    }
    due.sort((a, b) => (a.expires! < b.expires! ? -1 : a.expires! > b.expires! ? 1 : a.seq! - b.seq!));
    let fired = 0;
    for (const t of due) {
      if (this.get(t.addr) !== t || t.expires === undefined) continue;
      t.expires = undefined;
      const key = elementKey(t.map, t.value);
      if (key === undefined) {
        this.#byAddr.delete(t.addr);
        continue;
      }
      if (!t.callback) continue;
      this.running = t;
      try {
        t.callback.call(t.callback.fn, BigInt(t.map), BigInt(key), BigInt(t.value));
      } finally {
        this.running = undefined;
      }
      fired++;
    }
    return fired;
  }
}

/** TIMER_QUEUES: one queue per address space (the runtimes of one thread's CPUs share their timers, as the kernel's map elements do). */
const TIMER_QUEUES = new WeakMap<object, TimerQueue>();

/** timerQueueOf: the address space's queue (made on first use). */
export function timerQueueOf(space: { readonly i32: Int32Array }): TimerQueue {
  let q = TIMER_QUEUES.get(space);
  if (!q) TIMER_QUEUES.set(space, (q = new TimerQueue(space)));
  return q;
}
