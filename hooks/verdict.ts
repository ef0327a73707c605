import { ProgType } from '../uapi/progType.js';
import { TcAction } from '../uapi/skBuff.js';
import { xdpEffect } from './xdp.js';
import { XdpAction, xdpActionName } from '../uapi/xdp.js';

/**
 * Verdict: what the kernel does with a packet after a program returned `retval`:
 *   - `forward`: it goes on (up the stack, back out with XDP_TX, or to a redirect target);
 *   - `drop`: it goes no further (dropped, aborted, stolen, or a socket filter's 0);
 * `name` is the action's kernel name (or the socket filter's length), `keep` the bytes that
 * go on when a socket filter trims the packet.
 */
export interface Verdict {
  readonly retval: number;
  readonly name: string;
  readonly forward: boolean;
  readonly keep?: number;
}

const TC_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(TcAction).map(([k, v]) => [v, k]));

/**
 * verdictOf interprets a return value (r0's low 32 bits) per program type, as the kernel does:
 *   - XDP: PASS, TX and REDIRECT forward; DROP and ABORTED drop; any other value is an
 *     invalid action (bpf_warn_invalid_xdp_action), handled as XDP_ABORTED;
 *   - tc (direct action, cls_bpf_exec_opcode): OK, SHOT, STOLEN, TRAP and REDIRECT are kept,
 *     anything else becomes TC_ACT_UNSPEC and the packet goes on; SHOT, STOLEN and TRAP
 *     drop (the packet is consumed);
 *   - socket filter: the number of bytes to keep (0 drops; more than the packet keeps it all).
 * `faulted`: the program stopped on a run-time fault, which the kernel's verifier would have
 * prevented; the packet is handled as an aborted program's: XDP_ABORTED, TC_ACT_SHOT, 0.
 */
export function verdictOf(progType: number, retval: number, len: number, faulted = false): Verdict {
  if (progType === ProgType.BPF_PROG_TYPE_SOCKET_FILTER) return interpret(progType, retval, len, faulted);
  // XDP and tc verdicts do not depend on the length: one object per (type, value)
  const key = faulted ? -0.5 : retval;
  let byType = memo.get(progType);
  if (!byType) memo.set(progType, (byType = new Map()));
  let v = byType.get(key);
  if (!v) byType.set(key, (v = interpret(progType, retval, len, faulted)));
  return v;
}
const memo = new Map<number, Map<number, Verdict>>();

function interpret(progType: number, retval: number, len: number, faulted: boolean): Verdict {
  switch (progType) {
    case ProgType.BPF_PROG_TYPE_XDP: {
      const v = faulted ? XdpAction.XDP_ABORTED : retval >>> 0;
      const effect = xdpEffect(v);
      return {
        retval: v,
        name: effect === 'aborted' ? 'XDP_ABORTED' : xdpActionName(v),
        forward: effect === 'pass' || effect === 'tx' || effect === 'redirect',
      };
    }
    case ProgType.BPF_PROG_TYPE_SCHED_CLS:
    case ProgType.BPF_PROG_TYPE_SCHED_ACT: {
      const v = faulted ? TcAction.TC_ACT_SHOT : retval | 0;
      const kept = [
        TcAction.TC_ACT_OK,
        TcAction.TC_ACT_SHOT,
        TcAction.TC_ACT_STOLEN,
        TcAction.TC_ACT_TRAP,
        TcAction.TC_ACT_REDIRECT,
      ] as number[];
      const code = kept.includes(v) ? v : TcAction.TC_ACT_UNSPEC;
      const drop = code === TcAction.TC_ACT_SHOT || code === TcAction.TC_ACT_STOLEN || code === TcAction.TC_ACT_TRAP;
      return { retval: v, name: TC_NAMES[code], forward: !drop };
    }
    default: {
      const v = faulted ? 0 : retval >>> 0;
      return v === 0
        ? { retval: 0, name: 'drop', forward: false, keep: 0 }
        : { retval: v, name: v >= len ? 'keep all' : 'trim', forward: true, keep: Math.min(v, len) };
    }
  }
}
