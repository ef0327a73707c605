import { ProgType, progTypeName } from '../../uapi/progType.js';
import type { ProgObject } from '../../kernel/objects.js';
import { decode } from '../../vm/decode.js';
import { disassemble } from '../../vm/disassembler.js';
import { width } from '../../vm/instruction.js';
import { Class, JmpOp, LDDW, Pseudo } from '../../vm/opcodes.js';

/** ProgShow is what `prog show` prints for one program (bpftool's fields). */
export interface ProgShow {
  id: number;
  type: number;
  name: string;
  tag: string;
  gpl: boolean;
  loadedAt: number;
  bytesXlated: number;
  mapIds: number[];
  pinned: string[];
}

/**
 * displayName is the name bpftool shows: the function's full name from BTF when the program
 * came with it (the kernel keeps only 15 characters), else the kernel's name.
 */
export function displayName(p: ProgObject): string {
  const sig = p.funcInfo.get(0);
  const m = sig ? /(\w+)\(/.exec(sig) : null;
  return m && m[1].startsWith(p.name) ? m[1] : p.name;
}

/** progShowOf describes a loaded program. */
export function progShowOf(p: ProgObject, pinned: string[]): ProgShow {
  return {
    id: p.id,
    type: p.type,
    name: displayName(p),
    tag: p.tag,
    gpl: p.gplCompatible,
    loadedAt: p.loadedAt,
    bytesXlated: p.bytecode.length,
    mapIds: p.maps.map((m) => m.id),
    pinned,
  };
}

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+0000');

/** showPlain prints `prog show` for one program, as bpftool does. */
export function progShowPlain(p: ProgShow): string {
  const lines = [
    `${p.id}: ${progTypeName(p.type)}  name ${p.name}  tag ${p.tag}${p.gpl ? '  gpl' : ''}`,
    `\tloaded_at ${isoSeconds(p.loadedAt)}  uid 0`,
    `\txlated ${p.bytesXlated}B  not jited${p.mapIds.length ? `  map_ids ${p.mapIds.join(',')}` : ''}`,
  ];
  for (const path of p.pinned) lines.push(`\tpinned ${path}`);
  return lines.join('\n');
}

/** progShowJson is `prog show -j` for one program. */
export function progShowJson(p: ProgShow): Record<string, unknown> {
  const o: Record<string, unknown> = {
    id: p.id,
    type: progTypeName(p.type),
    name: p.name,
    tag: p.tag,
    gpl_compatible: p.gpl,
    loaded_at: Math.floor(p.loadedAt / 1000),
    uid: 0,
    bytes_xlated: p.bytesXlated,
    jited: false,
    map_ids: p.mapIds,
  };
  if (p.pinned.length) o.pinned = p.pinned;
  return o;
}

const CALL = Class.BPF_JMP | JmpOp.BPF_CALL;

/**
 * XLATED_NAMES: helpers whose proto for a program type points to a function of another name
 * (net/core/filter.c: bpf_xdp_fib_lookup_proto, bpf_skb_check_mtu_proto, …); the xlated dump
 * shows that function's name, as bpftool resolves it through kallsyms.
 */
const XLATED_NAMES: Readonly<Partial<Record<number, Readonly<Record<number, string>>>>> = {
  [ProgType.BPF_PROG_TYPE_XDP]: { 25: 'bpf_xdp_event_output', 69: 'bpf_xdp_fib_lookup', 163: 'bpf_xdp_check_mtu' },
  [ProgType.BPF_PROG_TYPE_SCHED_CLS]: { 25: 'bpf_skb_event_output', 69: 'bpf_skb_fib_lookup', 163: 'bpf_skb_check_mtu' },
  [ProgType.BPF_PROG_TYPE_SCHED_ACT]: { 25: 'bpf_skb_event_output', 69: 'bpf_skb_fib_lookup', 163: 'bpf_skb_check_mtu' },
  [ProgType.BPF_PROG_TYPE_SOCKET_FILTER]: { 25: 'bpf_skb_event_output' },
};

/**
 * xlatedLines renders a program as `bpftool prog dump xlated` does: a function header and
 * the C source line (`; …`) where BTF gives them, map references as `map[id:N]` and
 * `map[id:N][0]+OFF`, then `N: (op) text` per instruction. With `linum`, source lines carry
 * `[file:line line_col:col]`.
 */
export function xlatedLines(
  p: ProgObject,
  linum = false,
): { insn: number; text: string; opcode: number; source?: string; func?: string }[] {
  const insns = decode(p.bytecode);
  const out: { insn: number; text: string; opcode: number; source?: string; func?: string }[] = [];
  let slot = 0;
  let lastLine = '';
  for (const i of insns) {
    // bpftool prints a constant lddw without llvm's "ll" (bpfbox's own disassembly keeps it
    // so that it assembles back to lddw rather than mov)
    let text = disassemble(i).replace(/ ll$/, '');
    // the kernel names a call by the function its program type's proto points to (bpf_xdp_check_mtu for XDP's bpf_check_mtu)
    const own = i.opcode === CALL && i.src === 0 ? XLATED_NAMES[p.type]?.[Number(i.imm)] : undefined;
    if (own) text = `call ${own}#${Number(i.imm)}`;
    if (i.opcode === LDDW && (i.src === Pseudo.BPF_PSEUDO_MAP_FD || i.src === Pseudo.BPF_PSEUDO_MAP_VALUE)) {
      const fd = Number(BigInt.asUintN(32, i.imm));
      const id = p.maps[p.mapFds.indexOf(fd)]?.id ?? 0;
      const off = Number(BigInt.asUintN(32, i.imm >> 32n));
      text = `r${i.dst} = map[id:${id}]${i.src === Pseudo.BPF_PSEUDO_MAP_VALUE ? `[0]+${off}` : ''}`;
    }
    const l = p.lineInfo.get(slot);
    // like bpftool, a source line is printed where it changes
    const key = l ? `${l.file}:${l.lineNum}:${l.line}` : lastLine;
    const source =
      l && key !== lastLine
        ? `; ${l.line}${linum && l.file ? ` [file:${l.file} line_num:${l.lineNum} line_col:${l.col}]` : ''}`
        : undefined;
    lastLine = key;
    out.push({ insn: slot, text, opcode: i.opcode, source, func: p.funcInfo.get(slot) });
    slot += width(i);
  }
  return out;
}

/** xlatedPlain is the text of `prog dump xlated`. */
export function xlatedPlain(p: ProgObject, linum = false): string {
  const lines: string[] = [];
  for (const l of xlatedLines(p, linum)) {
    if (l.func) lines.push(`${l.func}:`);
    if (l.source) lines.push(l.source);
    lines.push(`${String(l.insn).padStart(4)}: (${l.opcode.toString(16).padStart(2, '0')}) ${l.text}`);
  }
  return lines.join('\n');
}
