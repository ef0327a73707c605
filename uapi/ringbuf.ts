/** BPF_RINGBUF_BUSY_BIT: a ring buffer record's header while it is reserved (include/uapi/linux/bpf.h). */
export const BPF_RINGBUF_BUSY_BIT = 1 << 31;
/** BPF_RINGBUF_DISCARD_BIT: a record the program discarded; consumers skip it. */
export const BPF_RINGBUF_DISCARD_BIT = 1 << 30;
/** BPF_RINGBUF_HDR_SZ: bytes of a record header (the length word and a pad word). */
export const BPF_RINGBUF_HDR_SZ = 8;
