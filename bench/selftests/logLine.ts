/**
 * lastLogLine: the verifier log's last line that says something: the reason for a refusal.
 * The statistics lines the kernel appends (`processed N insns …`, `verification time`,
 * `stack depth`) and the states printed after `infinite loop detected` are passed over, as kload.c does for the kernel's log.
 */
export function lastLogLine(log: string): string {
  const lines = log.split('\n').map((l) => l.trimEnd());
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i];
    if (!l || /^(processed \d+ insns|verification time|stack depth|cur state:|old state:)/.test(l)) continue;
    return l.replace(/\t/g, ' ');
  }
  return '';
}

/**
 * causeOf: a message with its particulars (register numbers, offsets, sizes, ids, instruction
 * numbers, quoted program/map/object names) folded, so that refusals with one cause group
 * together: `R7(id=11,off=2,r=0)` and `R1(id=3,off=4,r=0)` both become `R#(id=#,off=#,r=#)`.
 */
export function causeOf(msg: string): string {
  return msg
    .replace(/(prog|map|object|func) '[^']*'/g, "$1 '…'")
    .replace(/\bR\d+/g, 'R#')
    .replace(/\bfp-\d+/g, 'fp-#')
    .replace(/0x[0-9a-f]+/gi, '#')
    .replace(/-?\b\d+\b/g, '#')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 160);
}
