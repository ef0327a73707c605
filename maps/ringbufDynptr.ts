import { Errno } from '../uapi/errno.js';
import { BPF_DYNPTR_TYPE, DYNPTR_MAX_SIZE, dynptrInit, dynptrRead, dynptrSetNull } from '../uapi/dynptr.js';
import { type Helper, argU32 as u32, negErrno as neg } from '../vm/helpers.js';
import type { MapViews } from './programSide.js';
import { RingBuf, ringbufSubmit } from './ringbuf.js';

/**
 * ringbufDynptrHelpers: kernel/bpf/ringbuf.c's dynptr flavour of reserve, submit and discard.
 * bpf_ringbuf_reserve_dynptr (198) reserves a record of `size` bytes and makes the dynptr at r4
 * a BPF_DYNPTR_TYPE_RINGBUF one over it; on any failure (flags given, size past
 * DYNPTR_MAX_SIZE: -E2BIG, no room: -EINVAL) the dynptr is NULL, and the program must still
 * submit or discard it (the verifier holds the reference either way). bpf_ringbuf_submit_dynptr
 * (199) and _discard_dynptr (200) commit the record (a NULL dynptr: nothing) and set the
 * dynptr NULL. The BPF_RB_* wakeup flags change nothing here, as for bpf_ringbuf_submit.
 */
export function ringbufDynptrHelpers(views: MapViews): Helper[] {
  const dv = () => views.space.view;
  const commit = (discard: boolean) => (ptr: bigint) => {
    const d = dynptrRead(dv(), u32(ptr));
    if (!d.data) return 0n;
    ringbufSubmit(views.space, d.data, discard);
    dynptrSetNull(dv(), u32(ptr));
    return 0n;
  };
  return [
    {
      id: 198,
      name: 'bpf_ringbuf_reserve_dynptr',
      fn: (map, size, flags, ptr) => {
        const p = u32(ptr);
        const n = u32(size);
        const fail = (errno: number) => (dynptrSetNull(dv(), p), neg(errno));
        if (flags !== 0n) return fail(Errno.EINVAL);
        if (n > DYNPTR_MAX_SIZE) return fail(Errno.E2BIG);
        const rb = views.get(u32(map));
        const sample = rb instanceof RingBuf ? rb.reserve(n) : 0;
        if (!sample) return fail(Errno.EINVAL);
        dynptrInit(dv(), p, { data: sample, size: n, type: BPF_DYNPTR_TYPE.RINGBUF });
        return 0n;
      },
    },
    { id: 199, name: 'bpf_ringbuf_submit_dynptr', fn: commit(false) },
    { id: 200, name: 'bpf_ringbuf_discard_dynptr', fn: commit(true) },
  ];
}
