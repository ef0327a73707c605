import { readFileSync } from 'node:fs';
import { ProgType } from '../../uapi/progType.js';
import { assemble } from '../../vm/asm/assembler.js';
import { type Instruction, insn } from '../../vm/instruction.js';

/** CorpusProgram: one program of a verifier corpus file (one variant of an entry). */
export interface CorpusProgram {
  /** "category: what" and, for a variant, its values. */
  readonly name: string;
  readonly category: string;
  readonly line: number;
  readonly type: number;
  readonly insns: Instruction[];
  /** "ok" or "err ERRNO @INSN message", as KernelProbe.ask(…, true) answers. */
  readonly expect: string;
}

const TYPES: Readonly<Record<string, number>> = {
  sk: ProgType.BPF_PROG_TYPE_SOCKET_FILTER,
  xdp: ProgType.BPF_PROG_TYPE_XDP,
  tc: ProgType.BPF_PROG_TYPE_SCHED_CLS,
};

/**
 * readCorpus parses a corpus file (the format test/fixtures/verifier/unsafe.txt describes):
 * entries of `== category: what`, `type`, `vary NAME|NAME2: a | b, c | d`, `expect`, and the
 * program in the kernel's syntax (`.insn OPCODE DST SRC OFF IMM` for one the assembler refuses).
 * Errors name the file and line.
 */
export function readCorpus(file: string): CorpusProgram[] {
  const out: CorpusProgram[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  let entry: { name: string; line: number; type: number; vary: [string[], string[][]][]; expect?: string; body: string[] } | undefined;
  const flush = () => {
    if (!entry) return;
    const e = entry;
    if (!e.expect) throw new Error(`${file}:${e.line}: entry "${e.name}" has no expect line`);
    // every combination of the vary lines
    let combos: Record<string, string>[] = [{}];
    for (const [names, values] of e.vary) {
      combos = combos.flatMap((c) => values.map((v) => ({ ...c, ...Object.fromEntries(names.map((n, k) => [n, v[k]])) })));
    }
    for (const c of combos) {
      const sub = (t: string) => t.replace(/\$([A-Z]+)/g, (m, n: string) => c[n] ?? m);
      let insns: Instruction[];
      try {
        const text = sub(e.body.join('\n'));
        // `.insn OPCODE DST SRC OFF IMM` writes an instruction the assembler would refuse
        insns = /^\s*\.insn /m.test(text)
          ? text.split('\n').flatMap((l) => {
              const raw = /^\s*\.insn\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)/.exec(l);
              return raw
                ? [insn(Number(raw[1]), Number(raw[2]), Number(raw[3]), Number(raw[4]), BigInt(raw[5]))]
                : l.trim()
                  ? assemble(l)
                  : [];
            })
          : assemble(text);
      } catch (err) {
        throw new Error(`${file}:${e.line}: ${(err as Error).message}`);
      }
      const label = Object.keys(c).length
        ? ` [${Object.entries(c)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}]`
        : '';
      out.push({ name: e.name + label, category: e.name.split(':')[0], line: e.line, type: e.type, insns, expect: sub(e.expect) });
    }
    entry = undefined;
  };
  lines.forEach((raw, n) => {
    const line = raw.trim();
    if (line.startsWith('#') || line === '') return;
    if (line.startsWith('== ')) {
      flush();
      entry = { name: line.slice(3), line: n + 1, type: TYPES.sk, vary: [], body: [] };
      return;
    }
    if (!entry) throw new Error(`${file}:${n + 1}: text outside an entry`);
    const type = /^type (\w+)$/.exec(line);
    const vary = /^vary ([A-Z|]+): (.*)$/.exec(line);
    const expect = /^expect (.*)$/.exec(line);
    if (type) {
      if (TYPES[type[1]] === undefined) throw new Error(`${file}:${n + 1}: unknown type ${type[1]}`);
      entry.type = TYPES[type[1]];
    } else if (vary) {
      const names = vary[1].split('|');
      const values = vary[2].split(/,\s+/).map((v) => v.split(' | ').map((x) => x.trim()));
      if (values.some((v) => v.length !== names.length)) throw new Error(`${file}:${n + 1}: each value needs ${names.length} parts`);
      entry.vary.push([names, values]);
    } else if (expect) entry.expect = expect[1] === 'ok' ? 'ok' : `err ${expect[1]}`;
    else entry.body.push(raw);
  });
  flush();
  return out;
}
