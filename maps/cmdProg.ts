import { isProgType } from '../hooks/progType.js';
import { decode } from '../vm/decode.js';
import { listing } from '../vm/disassembler.js';
import { BpfError, InstructionError, VerifierError } from '../vm/errors.js';
import { helperName } from '../vm/helperNames.js';
import { helperAllowed, typeModelled } from '../hooks/helperTable.js';
import { checkProgram } from '../vm/program.js';
import { ctxAccesses } from '../vm/ctxFlow.js';
import { ctxAccessOk } from '../hooks/ctxAccess.js';
import { LDDW, Pseudo } from '../vm/opcodes.js';
import { Errno, fail } from './errno.js';
import type { Handler } from './kernel.js';
import { MapType } from './mapType.js';
import { MapObject, ProgObject } from './objects.js';
import { progTag } from './progTag.js';

/** BPF_MAXINSNS for privileged loaders: one million instructions. */
const MAX_INSNS = 1_000_000;
const NAME_RE = /^[A-Za-z0-9_.]{0,15}$/;

/** bpf_tail_call is not a helper function here: the engines jump (vm/interpreter/call.ts). */
const BPF_FUNC_tail_call = 12;

/**
 * writeLog copies the log into the user's buffer as the kernel does: NUL-terminated, and
 * when it does not fit, truncated and ENOSPC (the program is then not loaded).
 */
function writeLog(buf: Uint8Array | undefined, size: number, text: string): boolean {
  if (!buf) return true;
  const bytes = new TextEncoder().encode(text);
  const room = Math.min(size, buf.length);
  const n = Math.min(bytes.length, room - 1);
  buf.set(bytes.subarray(0, n));
  buf[n] = 0;
  return bytes.length + 1 <= room;
}

/** progCommands: BPF_PROG_LOAD. Until the verifier (issue 7), the load checks decide. */
export const progCommands: { BPF_PROG_LOAD: Handler<'BPF_PROG_LOAD'> } = {
  BPF_PROG_LOAD(k, p, a) {
    if (!isProgType(a.prog_type)) fail(Errno.EINVAL, `unknown program type ${a.prog_type}`);
    const level = a.log_level ?? 0;
    const size = a.log_size ?? 0;
    if (!!a.log_buf !== !!size || (a.log_buf && level === 0) || (level && !a.log_buf) || level & ~7 || (a.log_buf && size < 128)) {
      fail(Errno.EINVAL, 'log_buf, log_size and log_level go together (size at least 128)');
    }
    if (typeof a.license !== 'string') fail(Errno.EFAULT);
    if (a.prog_name !== undefined && !NAME_RE.test(a.prog_name)) fail(Errno.EINVAL, 'name: at most 15 of [A-Za-z0-9_.]');
    if (!(a.insns instanceof Uint8Array) || a.insns.length === 0 || a.insns.length % 8 !== 0) fail(Errno.EINVAL, 'insns');
    if (a.insns.length / 8 > MAX_INSNS) fail(Errno.E2BIG);
    const lines: string[] = [];
    let program;
    const maps: MapObject[] = [];
    const mapFds: number[] = [];
    try {
      const insns = decode(a.insns);
      program = checkProgram(insns);
      // resolve map references: imm holds an fd (and, for MAP_VALUE, the offset in the second half)
      for (const i of insns) {
        if (i.opcode !== LDDW || (i.src !== Pseudo.BPF_PSEUDO_MAP_FD && i.src !== Pseudo.BPF_PSEUDO_MAP_VALUE)) continue;
        const fd = Number(BigInt.asUintN(32, i.imm));
        const e = p.fds.get(fd);
        if (!e || !(e.obj instanceof MapObject)) fail(Errno.EBADF, `fd ${fd} is not pointing to valid bpf_map`);
        if (i.src === Pseudo.BPF_PSEUDO_MAP_VALUE) {
          const off = Number(BigInt.asUintN(32, i.imm >> 32n));
          const t = e.obj.spec.type;
          if ((t !== MapType.BPF_MAP_TYPE_ARRAY) || off >= e.obj.spec.valueSize) fail(Errno.EINVAL, 'invalid access to map value pointer');
        }
        if (!mapFds.includes(fd)) {
          maps.push(e.obj);
          mapFds.push(fd);
        }
      }
      // helpers: the program type must allow each one it calls (net/core/filter.c get_func_proto)
      let slot = 0;
      for (const i of insns) {
        if (i.opcode === 0x85 && i.src === 0) {
          const id = Number(i.imm);
          const name = helperName(id);
          if (!name) throw new InstructionError(slot, `invalid func unknown#${id}`);
          if (!helperAllowed(a.prog_type, id)) throw new InstructionError(slot, `program of this type cannot use helper ${name}#${id}`);
          if (typeModelled(a.prog_type) && id !== BPF_FUNC_tail_call && !k.runtime(0).helpers.get(id)) throw new InstructionError(slot, `bpfbox does not implement helper ${name}#${id}`);
        }
        slot += i.opcode === LDDW ? 2 : 1;
      }
      // context fields: what this program type may read and write (the kernel's is_valid_access)
      for (const acc of ctxAccesses(program)) {
        if (ctxAccessOk(a.prog_type, 0, 4, false) === undefined) break;
        if (acc.atomic) throw new VerifierError(acc.slot, `BPF_ATOMIC stores into R${acc.reg} ctx is not allowed`);
        if (acc.regOff !== 0) throw new VerifierError(acc.slot, `dereference of modified ctx ptr R${acc.reg} off=${acc.regOff} disallowed`);
        if (ctxAccessOk(a.prog_type, acc.off, acc.size, acc.write) === false) throw new VerifierError(acc.slot, `invalid bpf_context access off=${acc.off} size=${acc.size}`);
      }
      if (level >= 2) lines.push(listing(insns));
      lines.push(`processed ${a.insns.length / 8} insns (limit ${MAX_INSNS}) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0`);
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      lines.push(e.message.replace(/^load program: /, ''));
      if (level) writeLog(a.log_buf, size, lines.join('\n') + '\n');
      return -(e instanceof VerifierError ? e.errno : Errno.EINVAL);
    }
    const text = level ? lines.join('\n') + '\n' : '';
    a.log_true_size = level ? new TextEncoder().encode(text).length + 1 : 0;
    if (level && !writeLog(a.log_buf, size, text)) return -Errno.ENOSPC;
    const obj = new ProgObject(k.allocId(), {
      type: a.prog_type, name: a.prog_name ?? '', bytecode: Uint8Array.from(a.insns), program, tag: progTag(a.insns),
      license: a.license, maps, mapFds,
      lineInfo: new Map((a.line_info ?? []).map((l) => [l.insn, l])),
      funcInfo: new Map((a.func_info ?? []).map((f) => [f.insn, f.name])),
    });
    for (const m of maps) k.hold(m);
    k.register(obj);
    return p.install(obj);
  },
};
