import { helperName } from '../../uapi/helperNames.js';
import { MapType as M } from '../../uapi/mapType.js';
import { ProgType as P } from '../../uapi/progType.js';
import { type Env, constantKey, ctxPointerOk, helperMemory } from './memory.js';
import { EACCES, EINVAL, Refused, refuse, unsupported } from './refuse.js';
import { type Scalar, UNKNOWN, isConstScalar, scalarConst, sync } from './scalar.js';
import { btfPtr, kernStructSize } from './btfStruct.js';
import { type BtfArg, btfArgument } from './btfArgs.js';
import { kptrXchgDest, kptrXchgSrc } from './kptr.js';
import { type DynptrAt, dynptrArg, dynptrSpi, markDynptr, releaseDynptr } from './dynptr.js';
import { SOCK_BTF, type SockArg, type SockRet, sockArgument } from './sockets.js';
import {
  type DynptrType,
  type KptrInfo,
  type MapInfo,
  NONE,
  type Reg,
  type VState,
  ZERO,
  kindName,
  mapRegs,
  unknownScalar,
  unreleased,
} from './state.js';
import { cur, read } from './step.js';

/**
 * Arg: the argument kinds of helper prototypes (the kernel's enum bpf_arg_type):
 * ctx PTR_TO_CTX (ctx0 ARG_PTR_TO_CTX_OR_NULL: the context or a constant 0), map CONST_MAP_PTR, key/value PTR_TO_MAP_KEY/VALUE (sized by the map),
 * uvalue the same written by the helper, value0 ARG_PTR_TO_MAP_VALUE_OR_NULL (a value or a constant 0), mem/mem0 PTR_TO_MEM read (mem0 may be NULL), umem
 * PTR_TO_UNINIT_MEM written, each followed by its size (size CONST_SIZE, size0 _OR_ZERO),
 * fixed memory of the prototype's fixed size read (ARG_PTR_TO_FIXED_SIZE_MEM, `fixed` gives the sizes),
 * long a long the helper writes (the same, 8 bytes), u32out a u32 the helper writes (ARG_PTR_TO_FIXED_SIZE_MEM | MEM_WRITE, arg size 4),
 * any ANYTHING, func PTR_TO_FUNC, stack0 PTR_TO_STACK_OR_NULL, ringmem the reserved record
 * to release, alloc CONST_ALLOC_SIZE_OR_ZERO, str PTR_TO_CONST_STR; the socket kinds of
 * sockets.ts, and release the socket reference bpf_sk_release drops (ARG_PTR_TO_BTF_ID_SOCK_COMMON | OBJ_RELEASE);
 * timer ARG_PTR_TO_TIMER (the value's `struct bpf_timer`, at its offset);
 * percpu ARG_PTR_TO_PERCPU_BTF_ID (a typed percpu `__ksym` variable: bpfbox provides none, so no register is one);
 * kptr_dest ARG_KPTR_XCHG_DEST and kptr_src its ARG_PTR_TO_BTF_ID_OR_NULL | OBJ_RELEASE (kptr.ts).
 */
type Arg =
  | 'lock'
  | 'timer'
  | 'ctx'
  | 'ctx0'
  | 'map'
  | 'key'
  | 'value'
  | 'uvalue'
  | 'value0'
  | 'mem'
  | 'mem0'
  | 'umem'
  | 'u32out'
  | 'long'
  | 'fixed'
  | 'size'
  | 'size0'
  | 'any'
  | 'func'
  | 'stack0'
  | 'ringmem'
  | 'alloc'
  | 'str'
  | SockArg
  | 'release'
  | 'percpu'
  | BtfArg
  | DynptrArgKind
  | 'kptr_dest'
  | 'kptr_src';
type Ret = 'int' | 'void' | 'map_value' | 'map_value_or_null' | 'ringbuf_mem_or_null' | 'dynptr_mem_or_null' | 'kptr_or_null';

/**
 * DynptrArgKind: ARG_PTR_TO_DYNPTR as the dynptr helpers take it (dynptr.ts): local_uninit /
 * ringbuf_uninit `DYNPTR_TYPE_* | MEM_UNINIT` (the helper makes one), ro `MEM_RDONLY` (an
 * initialised dynptr of any type), ringbuf_release `DYNPTR_TYPE_RINGBUF | OBJ_RELEASE`.
 */
type DynptrArgKind = 'dynptr_local_uninit' | 'dynptr_ringbuf_uninit' | 'dynptr_ro' | 'dynptr_ringbuf_release';

interface Proto {
  readonly args: readonly Arg[];
  readonly ret?: Ret;
  /** The helper may move or resize the packet (bpf_helper_changes_pkt_data): packet pointers die. */
  readonly changesPkt?: boolean;
  /** The map types the map argument may be (check_map_func_compatibility). */
  readonly mapTypes?: readonly number[];
  /** The helper may be given packet memory (`.pkt_access`): others refuse packet pointers. */
  readonly pktAccess?: boolean;
  /** The sizes of its `fixed` arguments, in order (arg1_size ...). */
  readonly fixed?: readonly number[];
  /** A callback helper: the callback's arguments after the frame is set up. */
  readonly callback?: 'loop' | 'for_each' | 'drain' | 'timer' | 'find_vma';
  /** A helper returning a socket pointer (sockets.ts): which, and whether it takes or passes on a reference. */
  readonly sock?: SockRet;
  /** bpf_skc_to_*: a cast to the kernel socket struct named (PTR_TO_BTF_ID_OR_NULL, passing the argument's reference on). */
  readonly skcTo?: string;
  /** `.might_sleep`: refused in a program that is not sleepable (bpfbox models none), before its arguments are looked at. */
  readonly mightSleep?: boolean;
  /** RET_PTR_TO_BTF_ID(_TRUSTED): a pointer to the kernel struct named, never NULL (btfStruct.ts: its fields readable). */
  readonly btfRet?: string;
}

const CTX_ANY = (n: number): Arg[] => ['ctx', ...Array<Arg>(n).fill('any')];
const REDIRECT_MAPS = [M.BPF_MAP_TYPE_DEVMAP, M.BPF_MAP_TYPE_DEVMAP_HASH, M.BPF_MAP_TYPE_CPUMAP, M.BPF_MAP_TYPE_XSKMAP];
const RB = [M.BPF_MAP_TYPE_RINGBUF];
const CGROUP_STORAGES = [M.BPF_MAP_TYPE_CGROUP_STORAGE, M.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE];
const PERCPU_MAPS = [M.BPF_MAP_TYPE_PERCPU_ARRAY, M.BPF_MAP_TYPE_PERCPU_HASH, M.BPF_MAP_TYPE_LRU_PERCPU_HASH];

/** PROTOS: the prototypes of the helpers bpfbox runs (the kernel's *_proto structs). */
export const PROTOS: Readonly<Record<number, Proto>> = {
  1: { args: ['map', 'key'], ret: 'map_value_or_null', pktAccess: true }, // bpf_map_lookup_elem
  2: { args: ['map', 'key', 'value', 'any'], pktAccess: true }, // bpf_map_update_elem
  3: { args: ['map', 'key'], pktAccess: true }, // bpf_map_delete_elem
  5: { args: [] }, // bpf_ktime_get_ns
  6: { args: ['mem', 'size'] }, // bpf_trace_printk (r3-r5 unchecked)
  7: { args: [] }, // bpf_get_prandom_u32
  8: { args: [] }, // bpf_get_smp_processor_id
  9: { args: ['ctx', 'any', 'mem', 'size', 'any'], changesPkt: true }, // bpf_skb_store_bytes
  10: { args: CTX_ANY(4), changesPkt: true }, // bpf_l3_csum_replace
  11: { args: CTX_ANY(4), changesPkt: true }, // bpf_l4_csum_replace
  12: { args: ['ctx', 'map', 'any'], ret: 'void', mapTypes: [M.BPF_MAP_TYPE_PROG_ARRAY] }, // bpf_tail_call (packet pointers: see tailCallInSubprog)
  13: { args: CTX_ANY(2), changesPkt: true }, // bpf_clone_redirect
  18: { args: CTX_ANY(2), changesPkt: true }, // bpf_skb_vlan_push
  19: { args: CTX_ANY(0), changesPkt: true }, // bpf_skb_vlan_pop
  23: { args: ['any', 'any'] }, // bpf_redirect
  25: { args: ['ctx', 'map', 'any', 'mem', 'size0'], mapTypes: [M.BPF_MAP_TYPE_PERF_EVENT_ARRAY] }, // bpf_perf_event_output
  26: { args: ['ctx', 'any', 'umem', 'size'] }, // bpf_skb_load_bytes
  28: { args: ['mem0', 'size0', 'mem0', 'size0', 'any'], pktAccess: true }, // bpf_csum_diff
  31: { args: CTX_ANY(2), changesPkt: true }, // bpf_skb_change_proto
  34: { args: CTX_ANY(0) }, // bpf_get_hash_recalc
  38: { args: CTX_ANY(2), changesPkt: true }, // bpf_skb_change_tail
  39: { args: CTX_ANY(1), changesPkt: true }, // bpf_skb_pull_data
  42: { args: [] }, // bpf_get_numa_node_id
  43: { args: CTX_ANY(2), changesPkt: true }, // bpf_skb_change_head
  44: { args: CTX_ANY(1), changesPkt: true }, // bpf_xdp_adjust_head
  46: { args: CTX_ANY(0) }, // bpf_get_socket_cookie
  47: { args: CTX_ANY(0) }, // bpf_get_socket_uid
  48: { args: CTX_ANY(1) }, // bpf_set_hash
  50: { args: CTX_ANY(3), changesPkt: true }, // bpf_skb_adjust_room
  51: { args: ['map', 'any', 'any'], mapTypes: REDIRECT_MAPS }, // bpf_redirect_map
  54: { args: CTX_ANY(1), changesPkt: true }, // bpf_xdp_adjust_meta
  65: { args: CTX_ANY(1), changesPkt: true }, // bpf_xdp_adjust_tail
  68: { args: ['ctx', 'any', 'umem', 'size', 'any'] }, // bpf_skb_load_bytes_relative
  69: { args: ['ctx', 'mem', 'size', 'any'] }, // bpf_fib_lookup
  87: { args: ['map', 'value', 'any'], mapTypes: [M.BPF_MAP_TYPE_QUEUE, M.BPF_MAP_TYPE_STACK, M.BPF_MAP_TYPE_BLOOM_FILTER] }, // bpf_map_push_elem
  88: { args: ['map', 'uvalue'], mapTypes: [M.BPF_MAP_TYPE_QUEUE, M.BPF_MAP_TYPE_STACK] }, // bpf_map_pop_elem
  93: { args: ['lock'], ret: 'void' }, // bpf_spin_lock
  94: { args: ['lock'], ret: 'void' }, // bpf_spin_unlock
  89: { args: ['map', 'uvalue'], mapTypes: [M.BPF_MAP_TYPE_QUEUE, M.BPF_MAP_TYPE_STACK, M.BPF_MAP_TYPE_BLOOM_FILTER] }, // bpf_map_peek_elem
  125: { args: [] }, // bpf_ktime_get_boot_ns
  130: { args: ['map', 'mem', 'size0', 'any'], mapTypes: RB }, // bpf_ringbuf_output
  131: { args: ['map', 'alloc', 'any'], ret: 'ringbuf_mem_or_null', mapTypes: RB }, // bpf_ringbuf_reserve
  132: { args: ['ringmem', 'any'], ret: 'void' }, // bpf_ringbuf_submit
  133: { args: ['ringmem', 'any'], ret: 'void' }, // bpf_ringbuf_discard
  134: { args: ['map', 'any'], mapTypes: RB }, // bpf_ringbuf_query
  160: { args: [] }, // bpf_ktime_get_coarse_ns
  164: {
    args: ['map', 'func', 'stack0', 'any'],
    callback: 'for_each',
    mapTypes: [
      M.BPF_MAP_TYPE_HASH,
      M.BPF_MAP_TYPE_LRU_HASH,
      M.BPF_MAP_TYPE_ARRAY,
      M.BPF_MAP_TYPE_PERCPU_HASH,
      M.BPF_MAP_TYPE_LRU_PERCPU_HASH,
      M.BPF_MAP_TYPE_PERCPU_ARRAY,
    ],
  }, // bpf_for_each_map_elem
  165: { args: ['mem0', 'size0', 'str', 'mem0', 'size0'] }, // bpf_snprintf
  181: { args: ['any', 'func', 'stack0', 'any'], callback: 'loop' }, // bpf_loop
  188: { args: CTX_ANY(0) }, // bpf_xdp_get_buff_len
  189: { args: ['ctx', 'any', 'umem', 'size'] }, // bpf_xdp_load_bytes
  190: { args: ['ctx', 'any', 'mem', 'size'] }, // bpf_xdp_store_bytes (ARG_PTR_TO_MEM | MEM_RDONLY: it reads the buffer)
  32: { args: CTX_ANY(1) }, // bpf_skb_change_type
  35: { args: [] }, // bpf_get_current_task
  97: { args: CTX_ANY(0) }, // bpf_skb_ecn_set_ce
  113: { args: ['umem', 'size0', 'any'] }, // bpf_probe_read_kernel
  115: { args: ['umem', 'size0', 'any'] }, // bpf_probe_read_kernel_str
  135: { args: CTX_ANY(1) }, // bpf_csum_level
  163: { args: ['ctx', 'any', 'u32out', 'any', 'any'] }, // bpf_check_mtu (skb and xdp protos alike)
  192: { args: CTX_ANY(2) }, // bpf_skb_set_tstamp
  152: { args: ['any', 'mem0', 'size0', 'any'] }, // bpf_redirect_neigh
  155: { args: ['any', 'any'] }, // bpf_redirect_peer
  20: { args: ['ctx', 'umem', 'size', 'any'] }, // bpf_skb_get_tunnel_key
  21: { args: ['ctx', 'mem', 'size', 'any'] }, // bpf_skb_set_tunnel_key
  29: { args: ['ctx', 'umem', 'size'] }, // bpf_skb_get_tunnel_opt
  30: { args: ['ctx', 'mem', 'size'] }, // bpf_skb_set_tunnel_opt
  105: { args: ['mem', 'size', 'any', 'long'] }, // bpf_strtol
  106: { args: ['mem', 'size', 'any', 'long'] }, // bpf_strtoul
  182: { args: ['mem', 'size', 'str'] }, // bpf_strncmp
  14: { args: [] }, // bpf_get_current_pid_tgid
  15: { args: [] }, // bpf_get_current_uid_gid
  16: { args: ['umem', 'size'] }, // bpf_get_current_comm
  17: { args: CTX_ANY(0) }, // bpf_get_cgroup_classid
  24: { args: CTX_ANY(0) }, // bpf_get_route_realm
  40: { args: CTX_ANY(1) }, // bpf_csum_update
  41: { args: CTX_ANY(0) }, // bpf_set_hash_invalid (RET_INTEGER)
  79: { args: CTX_ANY(0) }, // bpf_skb_cgroup_id
  83: { args: CTX_ANY(1) }, // bpf_skb_ancestor_cgroup_id
  112: { args: ['umem', 'size0', 'any'] }, // bpf_probe_read_user
  114: { args: ['umem', 'size0', 'any'] }, // bpf_probe_read_user_str
  118: { args: [] }, // bpf_jiffies64
  151: { args: CTX_ANY(0) }, // bpf_skb_cgroup_classid
  208: { args: [] }, // bpf_ktime_get_tai_ns
  67: { args: ['ctx', 'umem', 'size0', 'any'] }, // bpf_get_stack
  122: { args: ['ctx0'] }, // bpf_get_netns_cookie (every type's proto takes the context or NULL)
  204: { args: ['fixed', 'mem', 'size0'], fixed: [20], pktAccess: true }, // bpf_tcp_raw_gen_syncookie_ipv4
  205: { args: ['fixed', 'mem', 'size0'], fixed: [40], pktAccess: true }, // bpf_tcp_raw_gen_syncookie_ipv6
  206: { args: ['fixed', 'fixed'], fixed: [20, 20], pktAccess: true }, // bpf_tcp_raw_check_syncookie_ipv4
  207: { args: ['fixed', 'fixed'], fixed: [40, 20], pktAccess: true }, // bpf_tcp_raw_check_syncookie_ipv6
  // socket lookups and what a socket pointer may be given to (net/core/filter.c; the skb and xdp protos alike)
  84: { args: ['ctx', 'mem', 'size', 'any', 'any'], pktAccess: true, sock: { type: 'sock', how: 'acquire' } }, // bpf_sk_lookup_tcp
  85: { args: ['ctx', 'mem', 'size', 'any', 'any'], pktAccess: true, sock: { type: 'sock', how: 'acquire' } }, // bpf_sk_lookup_udp
  99: { args: ['ctx', 'mem', 'size', 'any', 'any'], pktAccess: true, sock: { type: 'sock_common', how: 'acquire' } }, // bpf_skc_lookup_tcp
  86: { args: ['release'] }, // bpf_sk_release
  95: { args: ['sockc'], sock: { type: 'sock', how: 'cast' } }, // bpf_sk_fullsock
  96: { args: ['sockc'], sock: { type: 'tcp_sock', how: 'cast' } }, // bpf_tcp_sock
  98: { args: ['sockc'], sock: { type: 'sock', how: 'plain' } }, // bpf_get_listener_sock
  100: { args: ['btfsockc', 'mem', 'size', 'mem', 'size'], pktAccess: true }, // bpf_tcp_check_syncookie
  110: { args: ['btfsockc', 'mem', 'size', 'mem', 'size'], pktAccess: true }, // bpf_tcp_gen_syncookie
  124: { args: ['ctx', 'btfsockc', 'any'] }, // bpf_sk_assign
  136: { args: ['btfsockc'], skcTo: 'tcp6_sock' }, // bpf_skc_to_tcp6_sock
  137: { args: ['btfsockc'], skcTo: 'tcp_sock' }, // bpf_skc_to_tcp_sock
  138: { args: ['btfsockc'], skcTo: 'tcp_timewait_sock' }, // bpf_skc_to_tcp_timewait_sock
  139: { args: ['btfsockc'], skcTo: 'tcp_request_sock' }, // bpf_skc_to_tcp_request_sock
  140: { args: ['btfsockc'], skcTo: 'udp6_sock' }, // bpf_skc_to_udp6_sock
  178: { args: ['btfsockc'], skcTo: 'unix_sock' }, // bpf_skc_to_unix_sock
  196: { args: ['btfsockc'], skcTo: 'mptcp_sock' }, // bpf_skc_to_mptcp_sock
  81: { args: ['map', 'any'], ret: 'map_value', mapTypes: CGROUP_STORAGES }, // bpf_get_local_storage (RET_PTR_TO_MAP_VALUE: never NULL)
  107: { args: ['map', 'btfsockc', 'value0', 'any'], ret: 'map_value_or_null', mapTypes: [M.BPF_MAP_TYPE_SK_STORAGE] }, // bpf_sk_storage_get
  108: { args: ['map', 'btfsockc'], mapTypes: [M.BPF_MAP_TYPE_SK_STORAGE] }, // bpf_sk_storage_delete
  // bpf_timer_*: the timer is the map value's struct bpf_timer (process_timer_func); the callback is async (set_timer_callback_state)
  169: { args: ['timer', 'map', 'any'] }, // bpf_timer_init
  170: { args: ['timer', 'func'], callback: 'timer' }, // bpf_timer_set_callback
  171: { args: ['timer', 'any', 'any'] }, // bpf_timer_start
  172: { args: ['timer'] }, // bpf_timer_cancel
  149: { args: ['umem', 'size', 'mem', 'size', 'any'] }, // bpf_snprintf_btf (ARG_PTR_TO_MEM | MEM_WRITE, ARG_CONST_SIZE, btf_ptr read)
  153: { args: ['percpu', 'any'] }, // bpf_per_cpu_ptr (RET_PTR_TO_MEM_OR_BTF_ID | PTR_MAYBE_NULL | MEM_RDONLY)
  154: { args: ['percpu'] }, // bpf_this_cpu_ptr (RET_PTR_TO_MEM_OR_BTF_ID | MEM_RDONLY)
  // current and its storage (hooks/helpers/currentTask.ts): ARG_PTR_TO_BTF_ID(_OR_NULL) of task_struct / cgroup (btfArgs.ts)
  158: { args: [], btfRet: 'task_struct' }, // bpf_get_current_task_btf (RET_PTR_TO_BTF_ID_TRUSTED)
  194: { args: ['kptr_dest', 'kptr_src'], ret: 'kptr_or_null' }, // bpf_kptr_xchg (kptr.ts; RET_PTR_TO_BTF_ID_OR_NULL, an acquire)
  175: { args: ['task'], btfRet: 'pt_regs' }, // bpf_task_pt_regs (RET_PTR_TO_BTF_ID)
  141: { args: ['task', 'umem', 'size0', 'any'] }, // bpf_get_task_stack
  180: { args: ['task', 'any', 'func', 'stack0', 'any'], callback: 'find_vma' }, // bpf_find_vma
  156: { args: ['map', 'task0', 'value0', 'any'], ret: 'map_value_or_null', mapTypes: [M.BPF_MAP_TYPE_TASK_STORAGE] }, // bpf_task_storage_get
  157: { args: ['map', 'task0'], mapTypes: [M.BPF_MAP_TYPE_TASK_STORAGE] }, // bpf_task_storage_delete
  210: { args: ['map', 'cgrp0', 'value0', 'any'], ret: 'map_value_or_null', mapTypes: [M.BPF_MAP_TYPE_CGRP_STORAGE] }, // bpf_cgrp_storage_get
  211: { args: ['map', 'cgrp0'], mapTypes: [M.BPF_MAP_TYPE_CGRP_STORAGE] }, // bpf_cgrp_storage_delete
  // kernel/bpf/helpers.c and ringbuf.c: the dynptr helpers (bpf_dynptr_from_mem also wants a map value: check_helper_call)
  197: { args: ['umem', 'size0', 'any', 'dynptr_local_uninit'] }, // bpf_dynptr_from_mem
  198: { args: ['map', 'any', 'any', 'dynptr_ringbuf_uninit'], mapTypes: RB }, // bpf_ringbuf_reserve_dynptr
  199: { args: ['dynptr_ringbuf_release', 'any'], ret: 'void' }, // bpf_ringbuf_submit_dynptr
  200: { args: ['dynptr_ringbuf_release', 'any'], ret: 'void' }, // bpf_ringbuf_discard_dynptr
  201: { args: ['umem', 'size0', 'dynptr_ro', 'any', 'any'] }, // bpf_dynptr_read
  202: { args: ['dynptr_ro', 'any', 'mem', 'size0', 'any'] }, // bpf_dynptr_write (a skb dynptr's write changes the packet)
  203: { args: ['dynptr_ro', 'any', 'alloc'], ret: 'dynptr_mem_or_null' }, // bpf_dynptr_data
  // bpf_user_ringbuf_drain: the callback gets (const struct bpf_dynptr *, ctx) per record
  209: { args: ['map', 'func', 'stack0', 'any'], callback: 'drain', mapTypes: [M.BPF_MAP_TYPE_USER_RINGBUF] },
  // the base helpers of kernel/trace/bpf_trace.c, kernel/bpf/helpers.c and net/core/filter.c (hooks/helpers/perfEvent.ts, cgroup.ts, ...)
  22: { args: ['map', 'any'], mapTypes: [M.BPF_MAP_TYPE_PERF_EVENT_ARRAY] }, // bpf_perf_event_read
  55: { args: ['map', 'any', 'umem', 'size'], mapTypes: [M.BPF_MAP_TYPE_PERF_EVENT_ARRAY] }, // bpf_perf_event_read_value
  66: { args: ['ctx', 'any', 'umem', 'size', 'any'] }, // bpf_skb_get_xfrm_state
  80: { args: [] }, // bpf_get_current_cgroup_id
  123: { args: ['any'] }, // bpf_get_current_ancestor_cgroup_id
  120: { args: ['any', 'any', 'umem', 'size'] }, // bpf_get_ns_current_pid_tgid
  109: { args: ['any'] }, // bpf_send_signal
  117: { args: ['any'] }, // bpf_send_signal_thread
  176: { args: ['umem', 'size0', 'any'] }, // bpf_get_branch_snapshot
  177: { args: ['mem', 'size', 'mem0', 'size0'] }, // bpf_trace_vprintk
  195: { args: ['map', 'key', 'any'], ret: 'map_value_or_null', mapTypes: PERCPU_MAPS }, // bpf_map_lookup_percpu_elem
  33: { args: ['ctx', 'map', 'any'], mapTypes: [M.BPF_MAP_TYPE_CGROUP_ARRAY] }, // bpf_skb_under_cgroup
  37: { args: ['map', 'any'], mapTypes: [M.BPF_MAP_TYPE_CGROUP_ARRAY] }, // bpf_current_task_under_cgroup
  // .might_sleep: the running 6.18 kernel offers them to XDP, tc and socket filters and then refuses
  // the call ("helper call might sleep in a non-sleepable prog"); their arguments are never reached
  148: { args: ['umem', 'size0', 'any'], mightSleep: true }, // bpf_copy_from_user
  191: { args: ['umem', 'size0', 'any', 'any', 'any'], mightSleep: true }, // bpf_copy_from_user_task
};

/** Map types only some helpers may take (the other direction of check_map_func_compatibility). */
const MAP_ONLY: Readonly<Record<number, readonly number[]>> = {
  [M.BPF_MAP_TYPE_PROG_ARRAY]: [12],
  [M.BPF_MAP_TYPE_PERF_EVENT_ARRAY]: [25, 22, 55], // perf_event_output, perf_event_read, perf_event_read_value
  [M.BPF_MAP_TYPE_RINGBUF]: [130, 131, 134, 198],
  [M.BPF_MAP_TYPE_DEVMAP]: [51, 1],
  [M.BPF_MAP_TYPE_DEVMAP_HASH]: [51, 1],
  [M.BPF_MAP_TYPE_CPUMAP]: [51],
  [M.BPF_MAP_TYPE_XSKMAP]: [51, 1],
  [M.BPF_MAP_TYPE_ARRAY_OF_MAPS]: [1],
  [M.BPF_MAP_TYPE_HASH_OF_MAPS]: [1],
  [M.BPF_MAP_TYPE_QUEUE]: [87, 88, 89],
  [M.BPF_MAP_TYPE_STACK]: [87, 88, 89],
  [M.BPF_MAP_TYPE_BLOOM_FILTER]: [87, 89],
  [M.BPF_MAP_TYPE_CGROUP_ARRAY]: [33, 37], // bpf_skb_under_cgroup, bpf_current_task_under_cgroup
  // sk_redirect_map, sock_map_update, msg_redirect_map, sk_select_reuseport, map_lookup_elem (and updates: mayUpdateSockmap)
  [M.BPF_MAP_TYPE_SOCKMAP]: [52, 53, 60, 82, 1],
  // sk_redirect_hash, sock_hash_update, msg_redirect_hash, sk_select_reuseport, map_lookup_elem (and updates: mayUpdateSockmap)
  [M.BPF_MAP_TYPE_SOCKHASH]: [72, 70, 71, 82, 1],
  [M.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY]: [82], // sk_select_reuseport
  [M.BPF_MAP_TYPE_CGROUP_STORAGE]: [81], // get_local_storage
  [M.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE]: [81],
  [M.BPF_MAP_TYPE_SK_STORAGE]: [107, 108, 194], // sk_storage_get, sk_storage_delete, kptr_xchg
  [M.BPF_MAP_TYPE_USER_RINGBUF]: [209], // user_ringbuf_drain
  [M.BPF_MAP_TYPE_TASK_STORAGE]: [156, 157, 194], // task_storage_get, task_storage_delete, kptr_xchg
  [M.BPF_MAP_TYPE_CGRP_STORAGE]: [210, 211, 194], // cgrp_storage_get, cgrp_storage_delete, kptr_xchg
};

/** The other direction: helpers that take only these map types (the sockmap helpers bpfbox does not model are refused before). */
const SOCK_MAPS: readonly number[] = [M.BPF_MAP_TYPE_SOCKMAP, M.BPF_MAP_TYPE_SOCKHASH];

/**
 * mayUpdateSockmap: may_update_sockmap (kernel/bpf/verifier.c): bpf_map_update_elem and
 * bpf_map_delete_elem on a sockmap or sockhash only where no locked struct sock can be
 * reached: socket filters, tc, XDP, sk_reuseport, the flow dissector, sk_lookup; sock_ops
 * may delete (its updates go through bpf_sock_map_update, which checks the event). Tracing
 * iterators (BPF_TRACE_ITER) may too: bpfbox does not know the attach type here and refuses
 * them as unmodelled rather than guess.
 */
function mayUpdateSockmap(progType: number, id: number): boolean {
  if (id !== 2 && id !== 3) return false;
  switch (progType) {
    case P.BPF_PROG_TYPE_TRACING:
      return unsupported('sockmap updates from tracing programs (allowed for BPF_TRACE_ITER only)');
    case P.BPF_PROG_TYPE_SOCK_OPS:
      return id === 3;
    case P.BPF_PROG_TYPE_SOCKET_FILTER:
    case P.BPF_PROG_TYPE_SCHED_CLS:
    case P.BPF_PROG_TYPE_SCHED_ACT:
    case P.BPF_PROG_TYPE_XDP:
    case P.BPF_PROG_TYPE_SK_REUSEPORT:
    case P.BPF_PROG_TYPE_FLOW_DISSECTOR:
    case P.BPF_PROG_TYPE_SK_LOOKUP:
      return true;
    default:
      return false;
  }
}

/**
 * SIZE_BOUNDED_RET: the helpers whose r0 do_refine_retval_range (kernel/bpf/verifier.c) bounds
 * by their buffer: at most the size argument's largest value (meta->msize_max_value), at least
 * -MAX_ERRNO, in 64 and 32 bits: bpf_probe_read_str, bpf_get_stack, bpf_probe_read_user_str,
 * bpf_probe_read_kernel_str, bpf_get_task_stack.
 */
const SIZE_BOUNDED_RET: ReadonlySet<number> = new Set([45, 67, 114, 115, 141]);
/** MAX_ERRNO (include/linux/err.h). */
const MAX_ERRNO = 4095n;

/** BPF_MAX_VAR_SIZ: the largest size a helper may be given. */
const MAX_VAR_SIZ = 1n << 29n;
const MEM_EXPECTED = 'fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_';
/** notMemory: a register no memory argument takes (check_reg_type against the mem arg types, MEM_EXPECTED). */
const notMemory = (v: Reg): boolean =>
  v.k === 'scalar' ||
  v.k === 'ctx' ||
  v.k === 'map_ptr' ||
  v.k === 'pkt_end' ||
  v.k.endsWith('_or_null') ||
  v.k === 'func' ||
  v.k === 'sock' ||
  referencedBtf(v);

/** CallbackSetup: the frame a callback helper asks the walker to run next. */
export interface CallbackSetup {
  readonly target: number;
  readonly args: readonly Reg[];
}

/**
 * checkHelperCall checks a helper call's arguments against its prototype (check_helper_call,
 * check_func_arg) and applies its effects: r0 per the return type, r1-r5 unreadable, packet
 * pointers gone after helpers that change the packet, references acquired and released.
 * Returns the callback to verify, for bpf_loop and bpf_for_each_map_elem.
 */
export function checkHelperCall(vs: VState, id: number, env: Env, slot: number): CallbackSetup | undefined {
  const name = id === 0 ? 'bpf_unspec' : helperName(id);
  if (!name) return refuse(`invalid func unknown#${id}`, EINVAL);
  if (!env.ops.getFuncProto(id)) refuse(`program of this type cannot use helper ${name}#${id}`, EINVAL);
  const proto = PROTOS[id];
  if (!proto) return unsupported(`helper ${name}#${id} (the kernel offers it to this program type; bpfbox does not implement it yet)`);
  if (proto.mightSleep) refuse('helper call might sleep in a non-sleepable prog', EINVAL);
  // while a bpf_spin_lock is held, only its unlock may be called
  if (vs.lock && id !== 94) refuse('function calls are not allowed while holding a lock', EINVAL);
  let map: MapInfo | undefined;
  let mem: { reg: Reg; r: number; raw: boolean; nullable: boolean } | undefined;
  let released: number | undefined;
  let allocSize = 0;
  let callback: number | undefined;
  let cbCtx: Reg = NONE;
  let key: bigint | undefined;
  let keySlot = 0;
  let fixedN = 0;
  let msizeMax = 0n;
  const findVmaTask = id === 180 ? read(vs, 1) : undefined;
  /** meta->ref_obj_id: the reference a socket argument carries (a cast passes it on to r0). */
  let argRef = 0;
  /** The dynptr a `dynptr_ro` argument names (bpf_dynptr_data's slice, bpf_dynptr_write's packet). */
  let dynptr: DynptrAt | undefined;
  /** The `dynptr_*_uninit` argument's register: its slots are marked after every argument is checked. */
  let dynptrOut: { r: number; type: DynptrType } | undefined;
  let releaseR: number | undefined;
  /** bpf_kptr_xchg's field (meta->kptr_field): the second argument's type and r0's. */
  let kptr: KptrInfo | undefined;
  proto.args.forEach((a, n) => {
    const r = n + 1;
    const v = read(vs, r);
    if ((v.k === 'pkt' || v.k === 'pkt_meta') && a !== 'any' && !proto.pktAccess) refuse('helper access to the packet is not allowed');
    switch (a) {
      case 'any':
        return;
      case 'lock':
        return spinLock(vs, v, r, id === 93);
      case 'timer':
        map = timerArg(v, r);
        return;
      case 'ctx0':
      case 'ctx':
        if (a === 'ctx0' && v.k === 'scalar' && isConstScalar(v.s) && v.s.var.value === 0n) return;
        if (v.k !== 'ctx') refuse(`R${r} type=${kindName(v)} expected=ctx`);
        if (v.k === 'ctx') ctxPointerOk(v, r);
        return;
      case 'map':
        if (v.k !== 'map_ptr') return void refuse(`R${r} type=${kindName(v)} expected=map_ptr`);
        // bpf_timer_init: the map the timer's value came from (map_uid: bpfbox's inner maps have none)
        if (map && map !== v.m) refuse(`timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0`, EINVAL);
        map = v.m;
        return;
      case 'key':
      case 'value':
      case 'uvalue':
      case 'value0': {
        if (!map) return void refuse(`invalid map_ptr to access map->${a === 'key' ? 'key' : 'value'}`);
        // ARG_PTR_TO_MAP_VALUE_OR_NULL: a known NULL is no memory to check (register_is_null)
        if (a === 'value0' && v.k === 'scalar' && isConstScalar(v.s) && v.s.var.value === 0n) return;
        // resolve_map_arg_type: a sockmap's or sockhash's value, from a program, is a socket
        if (a === 'value' && SOCK_MAPS.includes(map.type ?? -1)) return void sockArgument(v, r, 'btfsockc');
        if ((v.k !== 'stack' && v.k !== 'pkt' && v.k !== 'pkt_meta' && v.k !== 'map_value' && v.k !== 'mem') || referencedBtf(v))
          refuse(`R${r} type=${kindName(v)} expected=${MEM_EXPECTED}`);
        const size = a === 'key' ? map.keySize : map.valueSize;
        if (size === 0) refuse('invalid zero-sized read');
        // a constant key in the innermost frame may make an array lookup unable to fail (its slot then precise)
        if (a === 'key' && v.k === 'stack' && v.frame === vs.frames.length - 1)
          ((key = constantKey(vs, v, size)), (keySlot = (-v.off - 1) >> 3));
        helperMemory(vs, v, r, scalarConst(BigInt(size)), a === 'uvalue', env);
        // get_constant_map_key (6.13+): an array's constant key, for any helper, is relied on (its slot precise)
        if (a === 'key' && key !== undefined && (map.type === M.BPF_MAP_TYPE_ARRAY || map.type === M.BPF_MAP_TYPE_PERCPU_ARRAY))
          env.demand(0, [keySlot]);
        return;
      }
      case 'mem':
      case 'mem0':
      case 'umem':
        if (a === 'mem0' && v.k === 'scalar' && isConstScalar(v.s) && v.s.var.value === 0n)
          return void (mem = { reg: v, r, raw: false, nullable: true });
        if (notMemory(v)) refuse(`R${r} type=${kindName(v)} expected=${MEM_EXPECTED}`);
        mem = { reg: v, r, raw: a === 'umem', nullable: false };
        return;
      case 'u32out':
      case 'long':
      case 'fixed':
        if (notMemory(v)) refuse(`R${r} type=${kindName(v)} expected=${MEM_EXPECTED}`);
        if (a !== 'fixed') {
          // the memory first, then its alignment (check_func_arg, ARG_PTR_TO_FIXED_SIZE_MEM)
          // bpf_check_mtu's mtu_len is MEM_WRITE, not MEM_UNINIT (6.12); strtol's result is both
          helperMemory(vs, v, r, scalarConst(a === 'long' ? 8n : 4n), true, env, a === 'long');
          return alignedArg(v, a === 'long' ? 8 : 4);
        }
        return helperMemory(vs, v, r, scalarConst(BigInt(proto.fixed![fixedN++])), false, env);
      case 'size':
      case 'size0': {
        if (v.k !== 'scalar') return void refuse(`R${r} type=${kindName(v)} expected=scalar`);
        const s: Scalar = v.s;
        if (s.smin < 0n) refuse(`R${r} min value is negative, either use unsigned or 'var &= const'`);
        if (s.umin === 0n && a === 'size') refuse(`R${r} invalid zero-sized read: u64=[${s.umin},${s.umax}]`);
        if (s.umax >= MAX_VAR_SIZ) refuse(`R${r} unbounded memory access, use 'var &= const' or 'if (var < const)'`);
        env.demand(1 << r);
        msizeMax = s.umax;
        if (mem && !mem.nullable) helperMemory(vs, mem.reg, mem.r, s, mem.raw, env);
        else if (mem?.nullable && s.umax !== 0n) refuse(`R${mem.r} type=scalar expected=${MEM_EXPECTED}`);
        mem = undefined;
        return;
      }
      case 'func':
        if (v.k !== 'func') return void refuse(`R${r} type=${kindName(v)} expected=func`);
        callback = v.target;
        return;
      case 'stack0':
        if (!(v.k === 'stack' || (v.k === 'scalar' && isConstScalar(v.s) && v.s.var.value === 0n)))
          refuse(`R${r} type=${kindName(v)} expected=fp`);
        cbCtx = v;
        return;
      case 'alloc':
        if (v.k !== 'scalar' || !isConstScalar(v.s)) return void refuse(`R${r} is not a known constant'`);
        allocSize = Number(v.s.var.value);
        env.demand(1 << r);
        return;
      case 'ringmem':
        if (v.k !== 'mem' || v.btf || v.plain || v.dynptr !== undefined)
          return void refuse(`R${r} type=${kindName(v)} expected=ringbuf_mem`);
        if (v.off !== 0 || v.var.umax !== 0n)
          refuse(`R${r} must have zero offset when passed to release func or trusted arg to kfunc`, EINVAL);
        released = v.ref;
        return;
      case 'sockc':
      case 'btfsockc':
        argRef = sockArgument(v, r, a);
        return;
      case 'release':
        argRef = sockArgument(v, r, 'btfsockc');
        if (!argRef) refuse(`R${r} must be referenced when passed to release function`, EINVAL);
        released = argRef;
        return;
      case 'percpu':
        // percpu_btf_ptr_types: PTR_TO_BTF_ID | MEM_PERCPU (plain, MEM_RCU, PTR_TRUSTED); bpfbox loads no percpu ksym, so none reaches here
        return void refuse(`R${r} type=${kindName(v)} expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_`);
      case 'task':
      case 'task0':
      case 'cgrp0':
        btfArgument(v, r, a);
        return;
      case 'kptr_dest':
        kptr = kptrXchgDest(v, r);
        return;
      case 'kptr_src': {
        const ref = kptrXchgSrc(kptr!, v, r, (regs) => env.demand(regs));
        if (ref) released = ref;
        return;
      }
      case 'dynptr_local_uninit':
      case 'dynptr_ringbuf_uninit':
        // is_dynptr_reg_valid_uninit, then the 16 bytes written (check_mem_access, BPF_DW twice)
        dynptrSpi(vs, r);
        dynptrOut = { r, type: a === 'dynptr_local_uninit' ? 'local' : 'ringbuf' };
        return;
      case 'dynptr_ro':
        dynptr = dynptrArg(vs, r, env);
        return;
      case 'dynptr_ringbuf_release':
        releaseR = r;
        return;
      case 'str':
        if (v.k !== 'map_value') return void refuse(`R${r} type=${kindName(v)} expected=map_value`);
        // bpf_map_is_rdonly: read-only for programs and frozen
        if (!v.m.frozen || !v.m.readonlyProg) refuse(`R${r} does not point to a readonly map'`);
        return;
    }
  });
  // a tail call never returns: a reference held now would never be released
  if (id === 12 && vs.refs.size) throw new Refused(EINVAL, 'tail_call would lead to reference leak', [], [unreleased(vs)]);
  // bpf_get_local_storage cannot fail, so it has no flags to get wrong (check_helper_call: register_is_null)
  if (id === 81) {
    const f = read(vs, 2);
    if (!(f.k === 'scalar' && isConstScalar(f.s) && f.s.var.value === 0n))
      refuse("get_local_storage() doesn't support non-zero flags", EINVAL);
  }
  // the map's type against the helper (check_map_func_compatibility, after the arguments)
  const t = map?.type;
  if (t !== undefined && id === 12 && t !== M.BPF_MAP_TYPE_PROG_ARRAY) refuse('expected prog array map for tail call', EINVAL);
  if (t !== undefined && ((proto.mapTypes && !proto.mapTypes.includes(t)) || (MAP_ONLY[t] && !MAP_ONLY[t].includes(id)))) {
    const sockUpdate = SOCK_MAPS.includes(t) && (id === 2 || id === 3);
    if (!sockUpdate || !mayUpdateSockmap(env.progType, id)) {
      const why = sockUpdate ? ['cannot update sockmap in this context'] : [];
      throw new Refused(EINVAL, `cannot pass map_type ${t} into func ${name}#${id}`, [], why);
    }
  }
  // a sockmap lookup returns a referenced socket (PTR_TO_SOCKET_OR_NULL), which bpfbox's verifier does not model
  if (t !== undefined && id === 1 && SOCK_MAPS.includes(t))
    unsupported('bpf_map_lookup_elem on a sockmap or sockhash (the socket it returns)');
  // bpf_dynptr_from_mem makes dynptrs of map values only (check_helper_call)
  if (id === 197 && read(vs, 1).k !== 'map_value')
    refuse(`Unsupported reg type ${kindName(read(vs, 1))} for bpf_dynptr_from_mem data`, EACCES);
  // the dynptr made (mark_stack_slots_dynptr) or released (unmark_stack_slots_dynptr)
  if (dynptrOut) {
    const at = dynptrSpi(vs, dynptrOut.r);
    markDynptr(vs, dynptrOut.r, at, dynptrOut.type, env, slot);
  }
  if (releaseR !== undefined) releaseDynptr(vs, releaseR, env);
  // a skb dynptr's write may move the packet: packet pointers and packet slices die (check_helper_call)
  const dynptrPkt = id === 202 && (dynptr?.type === 'skb' || dynptr?.type === 'xdp');
  if (dynptrPkt) env.effects.writesPacket = true;
  const dynptrMovesPkt = id === 202 && dynptr?.type === 'skb';
  // the call's effects
  const regs = cur(vs).regs;
  for (let r = 1; r <= 5; r++) regs[r] = NONE;
  if (released !== undefined) {
    vs.refs.delete(released);
    const gone = released;
    mapRegs(vs, (r) =>
      (r.k === 'mem' || r.k === 'mem_or_null' || r.k === 'sock' || r.k === 'sock_or_null') && r.ref === gone ? unknownScalar : r,
    );
  }
  // a tail call from a subprogram makes it one that changes the packet (the tail-called program
  // may): packet pointers die; from the main program they do not (a failed tail call goes on
  // there with the packet as it was): both as the running 6.18 kernel decides
  const tailCallInSubprog = id === 12 && vs.frames.length > 1;
  if (proto.changesPkt || tailCallInSubprog || dynptrMovesPkt)
    mapRegs(vs, (r) =>
      r.k === 'pkt' || r.k === 'pkt_end' || r.k === 'pkt_meta' || ((r.k === 'mem' || r.k === 'mem_or_null') && r.pktSlice)
        ? unknownScalar
        : r,
    );
  switch (proto.ret ?? 'int') {
    case 'void':
      // RET_VOID: r0 is left not initialised (the log shows nothing for it after the call)
      regs[0] = NONE;
      break;
    case 'int':
      regs[0] = unknownScalar;
      break;
    case 'map_value':
      regs[0] = { k: 'map_value', m: map!, off: 0, var: ZERO };
      break;
    case 'map_value_or_null':
      // privileged: an array lookup with a constant key in range cannot fail (can_elide_value_nullness;
      // bpf_map_lookup_elem only: bpf_map_lookup_percpu_elem's cpu may be out of range)
      if (
        id === 1 &&
        !map!.ofMaps &&
        (map!.type === M.BPF_MAP_TYPE_ARRAY || map!.type === M.BPF_MAP_TYPE_PERCPU_ARRAY) &&
        key !== undefined &&
        key < BigInt(map!.maxEntries ?? 0)
      ) {
        // a value holding a spin lock gets an id all the same: which lock is held is map and id
        regs[0] = { k: 'map_value', m: map!, off: 0, var: ZERO, ...(map!.spinLock !== undefined ? { id: env.nextId() } : {}) };
        break;
      }
      regs[0] = map!.ofMaps
        ? { k: 'map_ptr_or_null', m: map!.inner ?? unsupported('maps of maps without an inner map description'), off: 0, id: env.nextId() }
        : { k: 'map_value_or_null', m: map!, off: 0, id: env.nextId() };
      break;
    case 'dynptr_mem_or_null':
      // RET_PTR_TO_DYNPTR_MEM_OR_NULL: `len` writable bytes, dying with the dynptr (dynptr_id) and its reference (ref_obj_id)
      regs[0] = { k: 'mem_or_null', size: allocSize, off: 0, ref: dynptr!.ref, id: env.nextId(), plain: true, dynptr: dynptr!.id };
      break;
    case 'kptr_or_null': {
      // RET_PTR_TO_BTF_ID_OR_NULL of the field's struct, and (is_acquire_function) a new reference
      env.nextId();
      const ref = env.nextId();
      vs.refs.set(ref, slot);
      const size = kernStructSize(kptr!.struct) ?? 0;
      regs[0] = { k: 'mem_or_null', size, off: 0, ref, id: ref, rdonly: true, btf: kptr!.struct };
      break;
    }
    case 'ringbuf_mem_or_null': {
      // an id for the NULL check, then the reference's, which the register then takes as its id
      // too (the kernel numbers them so: the log shows `ringbuf_mem_or_null(id=2,ref_obj_id=2,sz=8)`)
      env.nextId();
      const ref = env.nextId();
      vs.refs.set(ref, slot);
      regs[0] = { k: 'mem_or_null', size: allocSize, off: 0, ref, id: ref };
      break;
    }
  }
  if (proto.sock) {
    // RET_PTR_TO_*_OR_NULL: an id for the NULL check; a lookup's reference becomes its id too (as for ringbuf_mem_or_null)
    const nullId = env.nextId();
    let ref = proto.sock.how === 'cast' ? argRef : 0;
    if (proto.sock.how === 'acquire') vs.refs.set((ref = env.nextId()), slot);
    regs[0] = { k: 'sock_or_null', type: proto.sock.type, ref, id: proto.sock.how === 'acquire' ? ref : nullId };
  }
  if (proto.btfRet) regs[0] = btfPtr(proto.btfRet);
  if (proto.skcTo) {
    const size = SOCK_BTF.get(proto.skcTo)!;
    regs[0] = { k: 'mem_or_null', size, off: 0, ref: argRef, id: env.nextId(), rdonly: true, btf: proto.skcTo };
  }
  if (id === 8) regs[0] = { k: 'scalar', s: sync({ ...UNKNOWN, umax: 0xffffffffn }) };
  if (SIZE_BOUNDED_RET.has(id))
    regs[0] = { k: 'scalar', s: sync({ ...UNKNOWN, smin: -MAX_ERRNO, smax: msizeMax, s32min: -MAX_ERRNO, s32max: msizeMax }) };
  if (callback === undefined) return undefined;
  // bpf_user_ringbuf_drain calls its callback once per record with a CONST_PTR_TO_DYNPTR, a
  // register kind bpfbox's verifier does not have yet: the arguments and the map are checked
  // above; the callback is refused as unmodelled rather than walked with r1 unreadable
  if (proto.callback === 'drain') return unsupported('the callback of bpf_user_ringbuf_drain (its dynptr argument)');
  // bpf_timer_set_callback: callback_fn(map, key, value), run later (walk.ts verifies it as a path of its own)
  if (proto.callback === 'timer') {
    const m = map!;
    return {
      target: callback,
      args: [
        { k: 'map_ptr', m, off: 0 },
        { k: 'map_value', m: { keySize: 0, valueSize: m.keySize, readonlyProg: true }, off: 0, var: ZERO },
        { k: 'map_value', m, off: 0, var: ZERO },
      ],
    };
  }
  // bpf_find_vma: (task, vma, ctx), the task the caller's r1 (set_find_vma_callback_state); the vma a PTR_TO_BTF_ID
  if (proto.callback === 'find_vma') return { target: callback, args: [findVmaTask!, btfPtr('vm_area_struct'), cbCtx] };
  if (proto.callback === 'loop') return { target: callback, args: [{ k: 'scalar', s: sync({ ...UNKNOWN, umax: 0xffffffffn }) }, cbCtx] };
  // bpf_for_each_map_elem: (map, key, value, ctx); the key read-only
  const m = map!;
  const keyAsValue: MapInfo = { keySize: 0, valueSize: m.keySize, readonlyProg: true };
  return {
    target: callback,
    args: [
      { k: 'map_ptr', m, off: 0 },
      { k: 'map_value', m: keyAsValue, off: 0, var: ZERO },
      { k: 'map_value', m, off: 0, var: ZERO },
      cbCtx,
    ],
  };
}

/**
 * referencedBtf: a kernel object a KF_ACQUIRE kfunc gave (PTR_TO_BTF_ID with a reference, not
 * PTR_TRUSTED): no helper memory argument takes it (compatible_reg_types' mem_types).
 */
const referencedBtf = (v: Reg): boolean => v.k === 'mem' && v.btf !== undefined && v.ref !== 0;

export { unreleased } from './state.js';

/**
 * spinLock: the argument of bpf_spin_lock / bpf_spin_unlock (process_spin_lock): the lock
 * BTF places in a map value, at a constant offset; one lock held at a time, released by the
 * same lock.
 */
function spinLock(vs: VState, v: Reg, r: number, take: boolean): void {
  if (v.k !== 'map_value') return void refuse(`R${r} type=${kindName(v)} expected=map_value`);
  if (v.var.var.mask !== 0n) refuse(`R${r} doesn't have constant offset. bpf_spin_lock has to be at the constant offset`);
  const m = v.m;
  if (!m.btf) refuse(`map '${m.name ?? ''}' has to have BTF in order to use bpf_spin_lock`, EINVAL);
  if (m.spinLock === undefined) refuse(`map '${m.name ?? ''}' has no valid bpf_spin_lock`, EINVAL);
  const off = v.off + Number(v.var.var.value);
  if (off !== m.spinLock) refuse(`off ${off} doesn't point to 'struct bpf_spin_lock' that is at ${m.spinLock}`, EINVAL);
  if (take) {
    if (vs.lock) refuse('Locking two bpf_spin_locks are not allowed', EINVAL);
    vs.lock = { m, off, id: v.id ?? 0 };
    return;
  }
  if (!vs.lock) refuse('bpf_spin_unlock without taking a lock', EINVAL);
  if (vs.lock!.m !== m || vs.lock!.off !== off || vs.lock!.id !== (v.id ?? 0)) refuse('bpf_spin_unlock of different lock', EINVAL);
  vs.lock = undefined;
}

/**
 * timerArg: ARG_PTR_TO_TIMER (process_timer_func): a map value pointer at the constant offset of
 * the `struct bpf_timer` BTF places in the value; the map it names.
 */
function timerArg(v: Reg, r: number): MapInfo {
  if (v.k !== 'map_value') return refuse(`R${r} type=${kindName(v)} expected=map_value`);
  if (v.var.var.mask !== 0n) refuse(`R${r} doesn't have constant offset. bpf_timer has to be at the constant offset`, EINVAL);
  const m = v.m;
  if (!m.btf) refuse(`map '${m.name ?? ''}' has to have BTF in order to use bpf_timer`, EINVAL);
  if (m.timer === undefined) refuse(`map '${m.name ?? ''}' has no valid bpf_timer`, EINVAL);
  const off = v.off + Number(v.var.var.value);
  if (off !== m.timer) refuse(`off ${off} doesn't point to 'struct bpf_timer' that is at ${m.timer}`, EINVAL);
  return m;
}

/**
 * alignedArg: MEM_ALIGNED arguments (ARG_PTR_TO_LONG, ARG_PTR_TO_INT: check_ptr_alignment,
 * strict): the pointer is aligned to the size it points at; packet pointers counted from
 * NET_IP_ALIGN (2), as check_pkt_ptr_alignment does.
 */
function alignedArg(v: Reg, size: number): void {
  if (v.k !== 'stack' && v.k !== 'map_value' && v.k !== 'mem' && v.k !== 'pkt' && v.k !== 'pkt_meta') return;
  const variable = v.k === 'stack' ? (v.var ?? ZERO).var : v.var.var;
  const pkt = v.k === 'pkt' || v.k === 'pkt_meta';
  const at = BigInt(v.off + (pkt ? 2 : 0));
  if (!(((variable.value + at) | variable.mask) & BigInt(size - 1))) return;
  const t = variable.mask === 0n ? `${variable.value}` : `(${hex(variable.value)}; ${hex(variable.mask)})`;
  if (pkt) refuse(`misaligned packet access off 2+${t}+${v.off}+0 size ${size}`);
  refuse(`misaligned ${v.k === 'stack' ? 'stack ' : v.k === 'map_value' ? 'value ' : ''}access off ${t}+${v.off}+0 size ${size}`);
}

const hex = (x: bigint): string => (x === 0n ? '0' : `0x${x.toString(16)}`);
