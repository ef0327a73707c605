import { ProgType } from '../../uapi/progType.js';
import { TcAction } from '../../uapi/skBuff.js';
import { xdpEffect } from '../../hooks/xdp.js';
import type { RedirectTarget } from '../../hooks/helpers/redirect.js';
import { IfaceSlot } from './counters.js';

/**
 * What the bridge does with a frame after the program's verdict, as generic XDP and tc would
 * at L2 (the table):
 *
 *   | verdict                                   | bridge                          | counter          |
 *   |-------------------------------------------|---------------------------------|------------------|
 *   | XDP_PASS, TC_ACT_OK / UNSPEC / PIPE        | on to the peer interface        | forwarded        |
 *   | XDP_DROP, TC_ACT_SHOT / STOLEN / TRAP      | not sent                        | dropped          |
 *   | XDP_TX                                    | back out of the ingress         | tx               |
 *   | XDP_REDIRECT, TC_ACT_REDIRECT             | out of the target, if managed   | redirected       |
 *   |   (to a CPUMAP entry)                     | on to the peer (the stack)      | redirected       |
 *   |   (elsewhere, BPF_F_INGRESS, gone)        | not sent                        | redirect_dropped |
 *   | XDP_ABORTED, an unknown value, a fault    | not sent                        | exception        |
 *
 * In a tap every run frame is `tapped`, whatever its verdict.
 */
export const Outcome = { FORWARD: 0, TX: 1, REDIRECT: 2, DROP: 3, EXCEPTION: 4 } as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** outcomeOf: the bridge's outcome for a verdict (the row verdictOf gave: its retval, already ABORTED / SHOT for a fault). */
export function outcomeOf(progType: number, retval: number, faulted: boolean): Outcome {
  if (faulted) return Outcome.EXCEPTION;
  if (progType === ProgType.BPF_PROG_TYPE_XDP) {
    switch (xdpEffect(retval >>> 0)) {
      case 'pass':
        return Outcome.FORWARD;
      case 'drop':
        return Outcome.DROP;
      case 'tx':
        return Outcome.TX;
      case 'redirect':
        return Outcome.REDIRECT;
      default:
        return Outcome.EXCEPTION;
    }
  }
  switch (retval | 0) {
    case TcAction.TC_ACT_SHOT:
    case TcAction.TC_ACT_STOLEN:
    case TcAction.TC_ACT_TRAP:
      return Outcome.DROP;
    case TcAction.TC_ACT_REDIRECT:
      return Outcome.REDIRECT;
    default:
      return Outcome.FORWARD;
  }
}

/** OUTCOME_COUNTER: the ingress interface's counter for each outcome. */
export const OUTCOME_COUNTER: readonly number[] = [
  IfaceSlot.forwarded,
  IfaceSlot.tx,
  IfaceSlot.redirected,
  IfaceSlot.dropped,
  IfaceSlot.exception,
];

/**
 * redirectEgress: the interface (index into the bridge's list) a redirect sends a frame out
 * of, or -1 (redirect_dropped): a target the appliance manages; a CPUMAP entry sends it on
 * to the ingress interface's peer, as the stack would.
 */
export function redirectEgress(to: RedirectTarget, byIfindex: ReadonlyMap<number, number>, peer: number): number {
  if (!to) return -1;
  if ('cpu' in to) return peer;
  if (to.ingress) return -1;
  return byIfindex.get(to.ifindex) ?? -1;
}

/** XDP_OUTCOMES: the outcome of each XDP action by value (XDP_ABORTED .. XDP_REDIRECT); any other value is an exception. */
export const XDP_OUTCOMES: readonly Outcome[] = [0, 1, 2, 3, 4].map((v) => outcomeOf(ProgType.BPF_PROG_TYPE_XDP, v, false));
