/**
 * BPF_DYNPTR_TYPE: enum bpf_dynptr_type (include/linux/bpf.h), the kinds of dynptr bpfbox
 * makes: LOCAL (bpf_dynptr_from_mem), RINGBUF (bpf_ringbuf_reserve_dynptr), SKB and XDP
 * (the kfuncs bpf_dynptr_from_skb / _xdp).
 */
export const BPF_DYNPTR_TYPE = { LOCAL: 1, RINGBUF: 2, SKB: 3, XDP: 4 } as const;

/** DYNPTR_MAX_SIZE: the largest dynptr (include/linux/bpf.h: the size field's 24 bits). */
export const DYNPTR_MAX_SIZE = (1 << 24) - 1;
const DYNPTR_TYPE_SHIFT = 28;
const DYNPTR_RDONLY_BIT = 1 << 31;

/**
 * Dynptr: struct bpf_dynptr_kern, the 16 bytes of program stack a dynptr is:
 *
 *   0        8                          12       16
 *   [ data  ][ size:24 | type:3 | rdonly:1 ][ offset ]
 *
 * data the memory's address (for SKB and XDP the program's context), size its bytes when it
 * was made (bpf_dynptr_init), offset where the dynptr starts in it. A NULL dynptr is all
 * zeroes (bpf_dynptr_set_null): data 0.
 */
export interface Dynptr {
  readonly data: number;
  readonly size: number;
  readonly type: number;
  readonly rdonly: boolean;
  readonly offset: number;
}

/** dynptrInit: bpf_dynptr_init: write a dynptr of `type` over `size` bytes at `data`, offset 0. */
export function dynptrInit(dv: DataView, at: number, d: Omit<Dynptr, 'rdonly' | 'offset'>): void {
  dv.setBigUint64(at, BigInt(d.data), true);
  dv.setUint32(at + 8, (d.size | (d.type << DYNPTR_TYPE_SHIFT)) >>> 0, true);
  dv.setUint32(at + 12, 0, true);
}

/** dynptrSetNull: bpf_dynptr_set_null: the 16 bytes zeroed. */
export function dynptrSetNull(dv: DataView, at: number): void {
  dv.setBigUint64(at, 0n, true);
  dv.setBigUint64(at + 8, 0n, true);
}

/** dynptrRead: the dynptr at `at` (data 0: a NULL one). */
export function dynptrRead(dv: DataView, at: number): Dynptr {
  const word = dv.getUint32(at + 8, true);
  return {
    data: Number(BigInt.asUintN(32, dv.getBigUint64(at, true))),
    size: word & DYNPTR_MAX_SIZE,
    type: (word & ~DYNPTR_RDONLY_BIT) >>> DYNPTR_TYPE_SHIFT,
    rdonly: (word & DYNPTR_RDONLY_BIT) !== 0,
    offset: dv.getUint32(at + 12, true),
  };
}

/** dynptrCheckOffLen: bpf_dynptr_check_off_len: `len` bytes at `offset` lie inside the dynptr (else -E2BIG). */
export const dynptrCheckOffLen = (d: Dynptr, offset: number, len: number): boolean => !(len > d.size || offset > d.size - len);
