import { type BtfRecord, encodeBtf } from './btfEncode.js';

/**
 * BASE_BTF_TYPES: bpfbox's own "vmlinux" BTF, the types its struct_ops subsystems define, as
 * data. Layouts are the running 6.18 kernel's (`bpftool btf dump file /sys/kernel/btf/vmlinux
 * format raw`, ids aside): `struct tcp_congestion_ops` (192 bytes, 18 members), the value type
 * the kernel's BPF_STRUCT_OPS_TYPE() wraps it in
 *
 *   struct bpf_struct_ops_tcp_congestion_ops {            offset
 *       struct bpf_struct_ops_common_value common;   //  0: refcount_t refcnt; enum state;
 *       struct tcp_congestion_ops data;              // 64: ____cacheline_aligned_in_smp
 *   };                                               // 256 bytes
 *
 * and the types its prototypes name (struct sock and the samples are forward declarations:
 * bpfbox has no TCP stack). `struct bbx_queue_ops` is the appliance's queue policy (issue 19's
 * sketch), present as data for the subsystem that will register it.
 */
export const BASE_BTF_TYPES: readonly BtfRecord[] = buildTypes();

function buildTypes(): BtfRecord[] {
  const t: BtfRecord[] = [];
  const add = (r: BtfRecord): number => t.push(r);
  const ptr = (type: number) => add({ kind: 'PTR', type });
  const struct = (name: string, size: number, members: [string, number, number][]) =>
    add({ kind: 'STRUCT', name, size, members: members.map(([n, type, byteOff]) => ({ name: n, type, bitOffset: byteOff * 8 })) });
  const proto = (ret: number, ...params: number[]) =>
    ptr(add({ kind: 'FUNC_PROTO', ret, params: params.map((type) => ({ name: '', type })) }));

  const int = add({ kind: 'INT', name: 'int', size: 4, signed: true });
  const uint = add({ kind: 'INT', name: 'unsigned int', size: 4 });
  const uchar = add({ kind: 'INT', name: 'unsigned char', size: 1 });
  const char = add({ kind: 'INT', name: 'char', size: 1, char: true });
  const ulong = add({ kind: 'INT', name: 'long unsigned int', size: 8 });
  const ulonglong = add({ kind: 'INT', name: 'long long unsigned int', size: 8 });
  const u32 = add({ kind: 'TYPEDEF', name: 'u32', type: add({ kind: 'TYPEDEF', name: '__u32', type: uint }) });
  const s32 = add({ kind: 'TYPEDEF', name: 's32', type: add({ kind: 'TYPEDEF', name: '__s32', type: int }) });
  const u8 = add({ kind: 'TYPEDEF', name: 'u8', type: add({ kind: 'TYPEDEF', name: '__u8', type: uchar }) });
  const u64 = add({ kind: 'TYPEDEF', name: 'u64', type: add({ kind: 'TYPEDEF', name: '__u64', type: ulonglong }) });
  const sizeT = add({ kind: 'TYPEDEF', name: 'size_t', type: add({ kind: 'TYPEDEF', name: '__kernel_size_t', type: ulong }) });
  const name16 = add({ kind: 'ARRAY', elem: char, index: int, n: 16 });

  // the common value: refcount_t refcnt; enum bpf_struct_ops_state state
  const atomic = add({ kind: 'TYPEDEF', name: 'atomic_t', type: struct('', 4, [['counter', int, 0]]) });
  const refcount = add({ kind: 'TYPEDEF', name: 'refcount_t', type: struct('refcount_struct', 4, [['refs', atomic, 0]]) });
  const state = add({
    kind: 'ENUM',
    name: 'bpf_struct_ops_state',
    size: 4,
    values: [
      ['BPF_STRUCT_OPS_STATE_INIT', 0],
      ['BPF_STRUCT_OPS_STATE_INUSE', 1],
      ['BPF_STRUCT_OPS_STATE_TOBEFREE', 2],
      ['BPF_STRUCT_OPS_STATE_READY', 3],
    ],
  });
  const common = struct('bpf_struct_ops_common_value', 8, [
    ['refcnt', refcount, 0],
    ['state', state, 4],
  ]);

  // struct tcp_congestion_ops (include/net/tcp.h, 6.18)
  const sock = ptr(add({ kind: 'FWD', name: 'sock' }));
  const ackSample = ptr(add({ kind: 'CONST', type: add({ kind: 'FWD', name: 'ack_sample' }) }));
  const rateSample = ptr(add({ kind: 'CONST', type: add({ kind: 'FWD', name: 'rate_sample' }) }));
  const ccInfo = ptr(add({ kind: 'FWD', name: 'tcp_cc_info', union: true }));
  const module = ptr(add({ kind: 'FWD', name: 'module' }));
  const listHead = add({ kind: 'FWD', name: 'list_head' });
  const listHeadPtr = ptr(listHead);
  t[listHead - 1] = {
    kind: 'STRUCT',
    name: 'list_head',
    size: 16,
    members: [
      { name: 'next', type: listHeadPtr, bitOffset: 0 },
      { name: 'prev', type: listHeadPtr, bitOffset: 64 },
    ],
  };
  const caEvent = add({
    kind: 'ENUM',
    name: 'tcp_ca_event',
    size: 4,
    values: [
      ['CA_EVENT_TX_START', 0],
      ['CA_EVENT_CWND_RESTART', 1],
      ['CA_EVENT_COMPLETE_CWR', 2],
      ['CA_EVENT_LOSS', 3],
      ['CA_EVENT_ECN_NO_CE', 4],
      ['CA_EVENT_ECN_IS_CE', 5],
    ],
  });
  const u32OfSock = proto(u32, sock);
  const voidOfSock = proto(0, sock);
  const tcpCa = struct('tcp_congestion_ops', 192, [
    ['ssthresh', u32OfSock, 0],
    ['cong_avoid', proto(0, sock, u32, u32), 8],
    ['set_state', proto(0, sock, u8), 16],
    ['cwnd_event', proto(0, sock, caEvent), 24],
    ['in_ack_event', proto(0, sock, u32), 32],
    ['pkts_acked', proto(0, sock, ackSample), 40],
    ['min_tso_segs', u32OfSock, 48],
    ['cong_control', proto(0, sock, u32, int, rateSample), 56],
    ['undo_cwnd', u32OfSock, 64],
    ['sndbuf_expand', u32OfSock, 72],
    ['get_info', proto(sizeT, sock, u32, ptr(int), ccInfo), 80],
    ['name', name16, 88],
    ['owner', module, 104],
    ['list', listHead, 112],
    ['key', u32, 128],
    ['flags', u32, 132],
    ['init', voidOfSock, 136],
    ['release', voidOfSock, 144],
  ]);
  struct('bpf_struct_ops_tcp_congestion_ops', 256, [
    ['common', common, 0],
    ['data', tcpCa, 64],
  ]);

  // struct bbx_queue_ops: the worker queues' steering and admission policy (issue 19)
  const pkt = struct('bbx_pkt', 16, [
    ['len', u32, 0],
    ['ifindex', u32, 4],
    ['rx_queue', u32, 8],
    ['hash', u32, 12],
  ]);
  const exitInfo = struct('bbx_exit_info', 64, [
    ['kind', u32, 0],
    ['code', s32, 4],
    ['reason', add({ kind: 'ARRAY', elem: char, index: int, n: 56 }), 8],
  ]);
  const pktPtr = ptr(pkt);
  const queueOps = struct('bbx_queue_ops', 64, [
    ['select_worker', proto(s32, pktPtr, u32), 0],
    ['enqueue', proto(s32, pktPtr, u32, u32), 8],
    ['tick', proto(0, u64), 16],
    ['init', proto(s32), 24],
    ['exit', proto(0, ptr(exitInfo)), 32],
    ['flags', u32, 40],
    ['timeout_ms', u32, 44],
    ['name', name16, 48],
  ]);
  struct('bpf_struct_ops_bbx_queue_ops', 128, [
    ['common', common, 0],
    ['data', queueOps, 64],
  ]);
  return t;
}

/** BPF_STRUCT_OPS_VALUE_PREFIX: the value type of struct_ops `name` is `struct bpf_struct_ops_<name>` (BPF_STRUCT_OPS_TYPE). */
export const BPF_STRUCT_OPS_VALUE_PREFIX = 'bpf_struct_ops_';

/** BASE_BTF: bpfbox's base BTF in the kernel's binary format (what `bpfbox btf dump file base` reads). */
export const BASE_BTF: Uint8Array = encodeBtf(BASE_BTF_TYPES);
