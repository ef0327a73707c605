/**
 * SpinLock: a lock word in the shared memory, taken with Atomics so that worker threads and
 * the control plane exclude each other (the kernel's raw_spin_lock). Waiters block with
 * Atomics.wait where the thread may block, and spin where it may not (the main thread).
 */
export class SpinLock {
  readonly #i32: Int32Array;
  readonly #index: number;

  /** `i32` views the shared memory; `addr` is the 4-byte-aligned lock word. */
  constructor(i32: Int32Array, addr: number) {
    this.#i32 = i32;
    this.#index = addr >> 2;
  }

  lock(): void {
    const a = this.#i32;
    const i = this.#index;
    for (let spins = 0; Atomics.compareExchange(a, i, 0, 1) !== 0; spins++) {
      if (spins > 100) {
        try {
          Atomics.wait(a, i, 1, 1);
        } catch {
          // the main thread may not wait: keep spinning
        }
      }
    }
  }

  unlock(): void {
    Atomics.store(this.#i32, this.#index, 0);
    Atomics.notify(this.#i32, this.#index, 1);
  }
}

/** withLock runs `fn` holding `lock`. */
export function withLock<T>(lock: SpinLock, fn: () => T): T {
  lock.lock();
  try {
    return fn();
  } finally {
    lock.unlock();
  }
}
