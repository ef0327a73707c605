import type { Member } from '../../elf/btf.js';
import { Errno } from '../../uapi/errno.js';
import { type StructOpsDesc, type StructOpsKdata, cString } from './desc.js';

/** TCP_CONG_MASK: the flags a congestion control may have (TCP_CONG_NON_RESTRICTED | TCP_CONG_NEEDS_ECN, include/net/tcp.h). */
const TCP_CONG_MASK = 0x1 | 0x2;
/** TCP_CA_NAME_MAX: a name is at most 15 characters and a NUL. */
const TCP_CA_NAME_MAX = 16;
/** Byte offsets in struct tcp_congestion_ops (6.18). */
const NAME_OFF = 88;
const FLAGS_OFF = 132;

/** unsupported_ops (net/ipv4/bpf_tcp_ca.c): members no BPF program may implement. */
const UNSUPPORTED: ReadonlySet<string> = new Set(['get_info']);

const nameOf = (k: StructOpsKdata) => cString(k.bytes, NAME_OFF, TCP_CA_NAME_MAX);

/**
 * tcp_validate_congestion_control (net/ipv4/tcp_cong.c): every algorithm implements ssthresh
 * and undo_cwnd, and cong_avoid or cong_control.
 */
function validate(k: StructOpsKdata): number {
  const has = (m: string) => k.progs.has(m);
  return has('ssthresh') && has('undo_cwnd') && (has('cong_avoid') || has('cong_control')) ? 0 : -Errno.EINVAL;
}

/** TcpCongestionOpsOptions: names already registered before any BPF one (the kernel's built-in reno, cubic). */
export interface TcpCongestionOpsOptions {
  readonly builtins?: readonly string[];
}

/**
 * tcpCongestionOps: the `tcp_congestion_ops` struct_ops (net/ipv4/bpf_tcp_ca.c) with the
 * kernel's registration rules and no TCP stack behind it: init_member takes `flags` (within
 * TCP_CONG_MASK) and `name` (1 to 15 characters); validate wants the required members;
 * reg (tcp_register_congestion_control) refuses a name already registered (EEXIST); update
 * (tcp_update_congestion_control) swaps an algorithm for another of the same name (another
 * name is EINVAL on 6.18, measured); get_info cannot be a program (check_member: ENOTSUPP).
 */
export function tcpCongestionOps(options: TcpCongestionOpsOptions = {}): StructOpsDesc & { registered(): string[] } {
  const builtins = options.builtins ?? ['reno', 'cubic'];
  const registered = new Map<string, StructOpsKdata | undefined>(builtins.map((n) => [n, undefined]));
  return {
    name: 'tcp_congestion_ops',
    checkMember: (m: Member) => (UNSUPPORTED.has(m.name) ? -Errno.ENOTSUPP : 0),
    initMember(m, udata, kdata) {
      const moff = m.offset / 8;
      if (moff === FLAGS_OFF) {
        const flags = new DataView(udata.buffer, udata.byteOffset + FLAGS_OFF, 4).getUint32(0, true);
        if (flags & ~TCP_CONG_MASK) return -Errno.EINVAL;
        kdata.set(udata.subarray(FLAGS_OFF, FLAGS_OFF + 4), FLAGS_OFF);
        return 1;
      }
      if (moff === NAME_OFF) {
        // bpf_obj_name_cpy: [A-Za-z0-9_.]{1,15} then NUL
        const raw = udata.subarray(NAME_OFF, NAME_OFF + TCP_CA_NAME_MAX);
        const end = raw.indexOf(0);
        if (end <= 0 || !/^[A-Za-z0-9_.]+$/.test(new TextDecoder().decode(raw.subarray(0, end)))) return -Errno.EINVAL;
        kdata.set(raw.subarray(0, end), NAME_OFF);
        return 1;
      }
      return 0;
    },
    validate,
    reg(k) {
      const err = validate(k);
      if (err) return err;
      if (registered.has(nameOf(k))) return -Errno.EEXIST;
      registered.set(nameOf(k), k);
      return 0;
    },
    unreg(k) {
      if (registered.get(nameOf(k)) === k) registered.delete(nameOf(k));
    },
    update(k, old) {
      const err = validate(k);
      if (err) return err;
      // 6.18 (measured): a link keeps its algorithm's name: another name is EINVAL ("not registered or non-unique key")
      if (registered.get(nameOf(old)) !== old || nameOf(k) !== nameOf(old)) return -Errno.EINVAL;
      registered.delete(nameOf(old));
      registered.set(nameOf(k), k);
      return 0;
    },
    registered: () => [...registered.keys()],
  };
}
