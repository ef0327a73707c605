import { type Helper, argS32, negErrno } from '../../vm/helpers.js';
import { kfuncByName } from '../../vm/verifier/kfuncs.js';

/** BPF_MAX_LOOPS: the most elements a numeric iterator may give (include/linux/bpf.h, as bpf_loop's limit). */
export const BPF_MAX_LOOPS = 8 * 1024 * 1024;
const EINVAL = 22;
const E2BIG = 7;

const kfunc = (name: string, fn: Helper['fn']): Helper => ({ id: kfuncByName(name)!.id, name, fn });

/**
 * iterNumKfuncs: the open-coded numeric iterator (kernel/bpf/bpf_iter.c's bpf_iter_num_*).
 * The iterator is 8 bytes of the program's stack, the kernel's struct bpf_iter_num_kern:
 * `int cur` then `int end`; next returns a pointer to `cur`.
 */
export function iterNumKfuncs(): Helper[] {
  return [
    kfunc('bpf_iter_num_new', (it, start, end, _r4, _r5, env) => {
      const dv = env.memory.view;
      const p = Number(it);
      const s = argS32(start);
      const e = argS32(end);
      const set = (cur: number, last: number) => (dv.setInt32(p, cur, true), dv.setInt32(p + 4, last, true));
      // start == end is an empty range: the first next() gives NULL
      if (s > e) return (set(0, 0), negErrno(EINVAL));
      if (e - s > BPF_MAX_LOOPS) return (set(0, 0), negErrno(E2BIG));
      set((s - 1) | 0, e);
      return 0n;
    }),
    kfunc('bpf_iter_num_next', (it, _r2, _r3, _r4, _r5, env) => {
      const dv = env.memory.view;
      const p = Number(it);
      const cur = dv.getInt32(p, true);
      const end = dv.getInt32(p + 4, true);
      if (((cur + 1) | 0) >= end) {
        dv.setInt32(p, 0, true);
        dv.setInt32(p + 4, 0, true);
        return 0n;
      }
      dv.setInt32(p, cur + 1, true);
      return it;
    }),
    kfunc('bpf_iter_num_destroy', (it, _r2, _r3, _r4, _r5, env) => {
      env.memory.view.setBigUint64(Number(it), 0n, true);
      return 0n;
    }),
  ];
}
