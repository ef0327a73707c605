/**
 * VerifierLogEntry is one line of a verifier log, by the kernel's grammar for it
 * (kernel/bpf/log.c, verifier.c):
 *
 *   `12: (61) r1 = *(u32 *)(r1 +0)  ; R1=pkt(r=0)`   insn: the instruction and the state after it
 *   `12: R1=ctx() R10=fp0`                           state: the registers on reaching an instruction
 *   `from 9 to 160: R0=1 …`                          branch: a path taken up again from a jump
 *   `; void *data = … @ xdp_stats.c:68`              source: the C line (BTF line info)
 *   `mark_precise: …`, `frame 0: propagating …`      precision: precision tracking
 *   `processed 1047 insns (limit 1000000) …`         stats: the verdict's statistics
 *   anything else                                    message: what the verifier said (a refusal's reason)
 */
export type VerifierLogEntry =
  | { readonly kind: 'insn'; readonly insn: number; readonly opcode: number; readonly text: string; readonly state?: string }
  | { readonly kind: 'state'; readonly insn: number; readonly state: string }
  | { readonly kind: 'branch'; readonly from: number; readonly to: number; readonly state: string }
  | { readonly kind: 'source'; readonly text: string; readonly file?: string; readonly line?: number }
  | { readonly kind: 'precision'; readonly text: string }
  | { readonly kind: 'stats'; readonly processed: number; readonly text: string }
  | { readonly kind: 'message'; readonly text: string };

const INSN = /^(\d+): \(([0-9a-f]{2})\) (.*?)(?:\s+; (.*))?$/;
const STATE = /^(\d+): (.*)$/;
const BRANCH = /^from (\d+) to (\d+): (.*)$/;
const SOURCE = /^; (.*?)(?: @ (.+):(\d+))?$/;
const STATS = /^processed (\d+) insns/;

/** parseVerifierLog splits a verifier log into entries (empty lines are left out). */
export function parseVerifierLog(log: string): VerifierLogEntry[] {
  const out: VerifierLogEntry[] = [];
  for (const line of log.split('\n')) {
    if (!line.trim()) continue;
    let m: RegExpExecArray | null;
    if ((m = INSN.exec(line)))
      out.push({ kind: 'insn', insn: Number(m[1]), opcode: parseInt(m[2], 16), text: m[3].trimEnd(), ...(m[4] ? { state: m[4] } : {}) });
    else if ((m = BRANCH.exec(line))) out.push({ kind: 'branch', from: Number(m[1]), to: Number(m[2]), state: m[3] });
    else if ((m = STATE.exec(line))) out.push({ kind: 'state', insn: Number(m[1]), state: m[2] });
    else if ((m = SOURCE.exec(line))) out.push({ kind: 'source', text: m[1], ...(m[2] ? { file: m[2], line: Number(m[3]) } : {}) });
    else if (line.startsWith('mark_precise: ') || /^frame \d+: propagating/.test(line)) out.push({ kind: 'precision', text: line });
    else if ((m = STATS.exec(line))) out.push({ kind: 'stats', processed: Number(m[1]), text: line });
    else out.push({ kind: 'message', text: line });
  }
  return out;
}
