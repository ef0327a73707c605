import { AssemblyError } from '../errors.js';
import { type Instruction, insn, width } from '../instruction.js';
import { parseDialect } from './dialect.js';
import type { AsmItem } from './item.js';
import { looksKernel, parseKernel } from './kernelSyntax.js';
import { OperandError } from './operands.js';
import { Class, JmpOp } from '../opcodes.js';

const EXIT = Class.BPF_JMP | JmpOp.BPF_EXIT;

/** splitOperands splits the text after a mnemonic at top-level commas. */
function splitOperands(rest: string): string[] {
  const t = rest.trim();
  return t === '' ? [] : t.split(',').map((s) => s.trim());
}

/**
 * assemble turns assembly text into Instructions. Each line may be in the conformance
 * suite's dialect (`mov32 %r0, 1`) or in the kernel's syntax that `disassemble` prints
 * (`w0 = 1`), so a disassembly assembles back to the same bytes. `label:` lines name jump
 * targets (a jump to `exit` with no such label goes to the next `exit`); `#`, `//` and `;` after a space start comments (`call bpf_x#1` keeps its id); a bpftool listing prefix (`  3: (b7) `) is skipped.
 */
export function assemble(text: string): Instruction[] {
  const items: { item: AsmItem; line: number }[] = [];
  const labels = new Map<string, number>();
  let slot = 0;
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n].replace(/(^|\s)(#|\/\/|;).*$/, '').trim();
    line = line.replace(/^\d+:\s*(\([0-9a-f]{2}\)\s*)?/, '');
    if (line === '') continue;
    const label = /^([A-Za-z_.][\w.]*):$/.exec(line);
    if (label) {
      if (labels.has(label[1])) throw new AssemblyError(n + 1, `duplicate label ${label[1]}`);
      labels.set(label[1], slot);
      continue;
    }
    try {
      let item: AsmItem;
      if (looksKernel(line)) {
        item = parseKernel(line);
      } else {
        const sp = line.search(/\s/);
        const mnemonic = sp < 0 ? line : line.slice(0, sp);
        item = parseDialect(mnemonic, splitOperands(sp < 0 ? '' : line.slice(sp)));
      }
      items.push({ item, line: n + 1 });
      slot += width(item.insn);
    } catch (e) {
      if (e instanceof OperandError) throw new AssemblyError(n + 1, e.message, { cause: e });
      throw e;
    }
  }
  // The conformance dialect lets a jump name `exit` without such a label: the next exit insn.
  const exits: number[] = [];
  slot = 0;
  for (const { item } of items) {
    if (item.insn.opcode === EXIT) exits.push(slot);
    slot += width(item.insn);
  }
  const nextExit = (from: number) => exits.find((e) => e > from);
  const out: Instruction[] = [];
  slot = 0;
  for (const { item, line } of items) {
    let i = item.insn;
    if (item.target) {
      let rel: number;
      if ('label' in item.target) {
        const to = labels.get(item.target.label) ?? (item.target.label === 'exit' ? nextExit(slot) : undefined);
        if (to === undefined) throw new AssemblyError(line, `unknown label ${item.target.label}`);
        rel = to - (slot + 1);
      } else {
        rel = item.target.relative;
      }
      if (item.field === 'offset' && (rel < -0x8000 || rel > 0x7fff))
        throw new AssemblyError(line, `jump offset ${rel} out of 16-bit range`);
      i = item.field === 'offset' ? insn(i.opcode, i.dst, i.src, rel, i.imm) : insn(i.opcode, i.dst, i.src, i.offset, rel);
    }
    out.push(i);
    slot += width(i);
  }
  return out;
}
