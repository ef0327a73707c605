/**
 * SpinLock: a lock word in the shared memory, taken with Atomics so that worker threads and
 * the control plane exclude each other (the kernel's raw_spin_lock). The word is 0 when
 * free, 1 when held, 2 when held with waiters (a futex-style mutex), so an uncontended
 * unlock needs no Atomics.notify. Waiters block with Atomics.wait where the thread may
 * block, and spin where it may not (the main thread of a browser; Node allows it).
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
    lockWord(this.#i32, this.#index);
  }

  unlock(): void {
    unlockWord(this.#i32, this.#index);
  }
}

/** lockWord takes the lock word at i32 index `i`. */
export function lockWord(a: Int32Array, i: number): void {
  if (Atomics.compareExchange(a, i, 0, 1) === 0) return;
  for (let spins = 0; ; spins++) {
    // mark contended, then wait while it stays contended
    if (Atomics.exchange(a, i, 2) === 0) return;
    if (spins > 50) {
      try {
        Atomics.wait(a, i, 2, 1);
      } catch {
        // a thread that may not wait keeps spinning
      }
    }
  }
}

/** unlockWord releases the lock word at `i`, waking a waiter only if there is one. */
export function unlockWord(a: Int32Array, i: number): void {
  if (Atomics.exchange(a, i, 0) === 2) Atomics.notify(a, i, 1);
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
