import { BpfError } from '../errors.js';

/** VectorError: a `.data` file that is not a well-formed conformance vector. */
export class VectorError extends BpfError {}

/**
 * ConformanceVector is one `.data` file of the eBPF conformance suite: the program as
 * assembly (`-- asm`) or raw words (`-- raw`, which wins), the memory r1 points at
 * (`-- mem`), and the expected full 64-bit r0 (`-- result`) or an expected failure (`-- error`).
 */
export interface ConformanceVector {
  readonly name: string;
  readonly asm?: string;
  readonly raw?: Uint8Array;
  readonly mem: Uint8Array;
  readonly result?: bigint;
  readonly error?: string;
}

const KNOWN = new Set(['asm', 'raw', 'mem', 'result', 'error', 'c', 'no register offset']);

function hexBytes(name: string, text: string): Uint8Array {
  const tokens = text.split(/\s+/).filter(Boolean);
  const bytes: number[] = [];
  for (const t of tokens) {
    if (!/^[0-9a-f]{2}$/i.test(t)) throw new VectorError(`${name}: mem: '${t}' is not a hex byte`);
    bytes.push(parseInt(t, 16));
  }
  return Uint8Array.from(bytes);
}

function rawWords(name: string, text: string): Uint8Array {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const out: number[] = [];
  for (const l of lines) {
    if (/^0x[0-9a-f]{1,16}$/i.test(l)) {
      let w = BigInt(l);
      for (let b = 0; b < 8; b++, w >>= 8n) out.push(Number(w & 0xffn));
    } else if (/^([0-9a-f]{2}\s+){7}[0-9a-f]{2}$/i.test(l)) {
      out.push(...l.split(/\s+/).map((t) => parseInt(t, 16)));
    } else {
      throw new VectorError(`${name}: raw: '${l}' is neither a 64-bit word nor 8 hex bytes`);
    }
  }
  return Uint8Array.from(out);
}

/** parseVector reads the text of a `.data` file; `name` labels errors. */
export function parseVector(name: string, text: string): ConformanceVector {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    const head = /^--\s*(.*?)\s*$/.exec(line);
    if (head) {
      const section = head[1].toLowerCase();
      if (!KNOWN.has(section)) throw new VectorError(`${name}: unknown section '-- ${head[1]}'`);
      current = [];
      sections.set(section, current);
      continue;
    }
    if (current) current.push(line);
    else if (line.trim() !== '' && !line.startsWith('#')) throw new VectorError(`${name}: text before the first section`);
  }
  const body = (s: string) =>
    sections
      .get(s)
      ?.filter((l) => !l.trim().startsWith('#'))
      .join('\n');
  const asm = body('asm');
  const rawText = body('raw');
  const raw = rawText !== undefined ? rawWords(name, rawText) : undefined;
  if (asm === undefined && raw === undefined) throw new VectorError(`${name}: no program (-- asm or -- raw)`);
  const resultText = body('result')?.trim();
  let result: bigint | undefined;
  if (resultText) {
    if (!/^-?(0x[0-9a-f]+|\d+)$/i.test(resultText)) throw new VectorError(`${name}: result '${resultText}' is not a number`);
    result = BigInt.asUintN(64, resultText.startsWith('-') ? -BigInt(resultText.slice(1)) : BigInt(resultText));
  }
  const error = sections.has('error') ? (body('error') ?? '').trim() : undefined;
  if (result === undefined && error === undefined) throw new VectorError(`${name}: neither -- result nor -- error`);
  return { name, asm, raw, mem: hexBytes(name, body('mem') ?? ''), result, error };
}
