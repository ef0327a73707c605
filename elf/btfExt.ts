import { ElfError } from './elfError.js';

/** LineInfo: the source line of the instruction at `insnOff` bytes into a section. */
export interface LineInfo {
  readonly insnOff: number;
  readonly file: string;
  readonly line: string;
  readonly lineNum: number;
  readonly col: number;
}

/** CoreRelo: a CO-RE relocation of the instruction at `insnOff` bytes into a section. */
export interface CoreRelo {
  readonly insnOff: number;
  readonly typeId: number;
  readonly access: string;
  readonly kind: number;
}

/** BtfExt is a parsed `.BTF.ext` section: line info and CO-RE relocations by section name. */
export interface BtfExt {
  readonly lines: ReadonlyMap<string, readonly LineInfo[]>;
  readonly core: ReadonlyMap<string, readonly CoreRelo[]>;
}

/** parseBtfExt reads `.BTF.ext`; names and source lines are looked up in the `.BTF` strings. */
export function parseBtfExt(data: Uint8Array, strings: Uint8Array): BtfExt {
  const fail = (detail: string, offset: number): never => {
    throw new ElfError(`BTF.ext: ${detail}`, { section: '.BTF.ext', offset });
  };
  if (data.length < 24) fail('shorter than its header', 0);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (dv.getUint16(0, true) !== 0xeb9f) fail('bad magic', 0);
  const hdrLen = dv.getUint32(4, true);
  const str = (off: number) => {
    let end = off;
    while (end < strings.length && strings[end] !== 0) end++;
    return new TextDecoder().decode(strings.subarray(off, end));
  };
  const blocks = (off: number, len: number, minRec: number, each: (sec: string, at: number) => void) => {
    if (len === 0) return;
    const start = hdrLen + off;
    if (start + len > data.length) fail('info runs past the end', start);
    const recSize = dv.getUint32(start, true);
    if (recSize < minRec) fail(`record size ${recSize} is too small`, start);
    let p = start + 4;
    while (p < start + len) {
      if (p + 8 > start + len) fail('truncated info block', p);
      const sec = str(dv.getUint32(p, true));
      const n = dv.getUint32(p + 4, true);
      p += 8;
      if (p + n * recSize > start + len) fail(`${n} records run past the end`, p);
      for (let i = 0; i < n; i++, p += recSize) each(sec, p);
    }
  };
  const lines = new Map<string, LineInfo[]>();
  const core = new Map<string, CoreRelo[]>();
  const push = <T>(m: Map<string, T[]>, k: string, v: T) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);
  blocks(dv.getUint32(16, true), dv.getUint32(20, true), 16, (sec, p) => {
    const lc = dv.getUint32(p + 12, true);
    push(lines, sec, {
      insnOff: dv.getUint32(p, true),
      file: str(dv.getUint32(p + 4, true)),
      line: str(dv.getUint32(p + 8, true)),
      lineNum: lc >>> 10,
      col: lc & 0x3ff,
    });
  });
  if (hdrLen >= 32) {
    blocks(dv.getUint32(24, true), dv.getUint32(28, true), 16, (sec, p) => {
      push(core, sec, {
        insnOff: dv.getUint32(p, true),
        typeId: dv.getUint32(p + 4, true),
        access: str(dv.getUint32(p + 8, true)),
        kind: dv.getUint32(p + 12, true),
      });
    });
  }
  return { lines, core };
}
