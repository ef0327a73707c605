import { typeModelled, verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { ProgType, isProgType } from '../../uapi/progType.js';
import { structOpsProgOps } from '../structOps/progCheck.js';
import { decode } from '../../vm/decode.js';
import { BpfError } from '../../vm/errors.js';
import { helperName } from '../../uapi/helperNames.js';
import { LDDW, Pseudo } from '../../vm/opcodes.js';
import { verifyProgram } from '../../vm/verifier/verified.js';
import { Errno, fail } from '../../uapi/errno.js';
import type { Handler } from '../process.js';
import type { MapObject } from '../objects.js';
import { ProgObject } from '../objects.js';
import { progTag } from '../progTag.js';
import { verifierMaps } from '../verifierMaps.js';

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

/** progCommands: BPF_PROG_LOAD: the verifier decides (vm/verifier), as in the kernel. */
export const progCommands: { BPF_PROG_LOAD: Handler<'BPF_PROG_LOAD'>; BPF_PROG_BIND_MAP: Handler<'BPF_PROG_BIND_MAP'> } = {
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
    if (a.attach_btf_id && a.prog_type !== ProgType.BPF_PROG_TYPE_STRUCT_OPS)
      fail(Errno.EINVAL, 'attach_btf_id: bpfbox has it for struct_ops programs only');
    const ops =
      a.prog_type === ProgType.BPF_PROG_TYPE_STRUCT_OPS ? structOpsProgOps(k, a) : verifierOpsOf(a.prog_type, a.expected_attach_type ?? 0);
    let insns;
    try {
      insns = decode(a.insns);
    } catch (e) {
      if (e instanceof BpfError) fail(Errno.EINVAL, e.message);
      throw e;
    }
    // the verifier decides (vm/verifier); its log goes to the user's buffer in the kernel's shape
    const { result, program } = verifyProgram(insns, {
      progType: a.prog_type,
      ops,
      maps: verifierMaps(p, insns),
      logLevel: level,
      lineInfo: a.line_info,
      funcInfo: (a.func_info?.length ?? 0) > 0,
      nonScalarReturn: (a.func_info ?? []).filter((f) => !scalarReturn(f.name)).map((f) => f.insn),
      // the global functions (not the program itself): func#N is the function's index in func_info
      globalFuncs: new Map(
        (a.func_info ?? []).flatMap((f, index) =>
          f.global && f.insn !== 0 ? [[f.insn, { index, name: funcName(f.name), args: f.global }] as const] : [],
        ),
      ),
    });
    const log = [...result.log];
    let errno = result.ok ? 0 : result.errno;
    // bpfbox runs only the helpers it implements (tail calls are not helpers here: the engines jump)
    if (program && typeModelled(a.prog_type)) {
      let slot = 0;
      for (const i of insns) {
        if (i.opcode === 0x85 && i.src === 0 && Number(i.imm) !== BPF_FUNC_tail_call && !k.runtime(0).helpers.get(Number(i.imm))) {
          log.splice(log.length - 1, 0, `bpfbox does not implement helper ${helperName(Number(i.imm))}#${Number(i.imm)} (insn ${slot})`);
          errno = Errno.ENOTSUPP;
          break;
        }
        slot += i.opcode === LDDW ? 2 : 1;
      }
    }
    const text = level ? log.join('\n') + '\n' : '';
    a.log_true_size = level ? new TextEncoder().encode(text).length + 1 : 0;
    // a log that does not fit is ENOSPC, whatever the verdict (bpf_vlog_finalize)
    if (level && !writeLog(a.log_buf, size, text)) return -Errno.ENOSPC;
    if (errno || !program) return -errno;
    const maps: MapObject[] = [];
    const mapFds: number[] = [];
    for (const i of insns) {
      if (i.opcode !== LDDW || (i.src !== Pseudo.BPF_PSEUDO_MAP_FD && i.src !== Pseudo.BPF_PSEUDO_MAP_VALUE)) continue;
      const fd = Number(BigInt.asUintN(32, i.imm));
      if (!mapFds.includes(fd)) {
        maps.push(p.mapOf(fd).map);
        mapFds.push(fd);
      }
    }
    const obj = new ProgObject(k.allocId(), {
      type: a.prog_type,
      expectedAttachType: a.expected_attach_type ?? 0,
      attachBtfId: a.attach_btf_id ?? 0,
      name: a.prog_name ?? '',
      bytecode: Uint8Array.from(a.insns),
      program,
      tag: progTag(a.insns),
      license: a.license,
      maps,
      mapFds,
      lineInfo: new Map((a.line_info ?? []).map((l) => [l.insn, l])),
      funcInfo: new Map((a.func_info ?? []).map((f) => [f.insn, f.name])),
      ...(a.prog_btf ? { btf: a.prog_btf } : {}),
    });
    for (const m of maps) k.hold(m);
    k.register(obj);
    return p.install(obj);
  },
  /**
   * BPF_PROG_BIND_MAP (bpf_prog_bind_map): the map joins the program's used maps, holding a
   * reference for the program's life; a map it already uses is left as it is. Flags: none (EINVAL).
   */
  BPF_PROG_BIND_MAP(k, p, a) {
    if (a.flags) return -Errno.EINVAL;
    const prog = p.progOf(a.prog_fd);
    const map = p.mapOf(a.map_fd).map;
    if (prog.maps.includes(map) || prog.bound.includes(map)) return 0;
    k.hold(map);
    prog.bound.push(map);
    return 0;
  },
};

/** funcName: the function's name in a func_info signature (`int f(int * p)` → f). */
function funcName(signature: string): string {
  const paren = signature.indexOf('(');
  return paren < 0
    ? signature
    : (signature
        .slice(0, paren)
        .trim()
        .split(/[\s*]+/)
        .pop() ?? signature);
}

/**
 * scalarReturn: whether a func_info signature (`int f(struct __sk_buff * skb)`) returns a
 * scalar (btf_type_is_small_int or an enum, typedefs seen through): anything but void, a
 * pointer, a struct or union. A name func_info gives without a signature counts as a scalar.
 */
function scalarReturn(signature: string): boolean {
  const paren = signature.indexOf('(');
  if (paren < 0) return true;
  const ret = signature.slice(0, paren).trim().split(/\s+/).slice(0, -1).join(' ');
  return ret !== '' && !/^(const |volatile )*void$/.test(ret) && !ret.includes('*') && !/^(const |volatile )*(struct|union) /.test(ret);
}
