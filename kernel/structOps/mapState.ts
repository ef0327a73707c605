import type { BtfType } from '../../elf/btf.js';
import { Errno, fail } from '../../uapi/errno.js';
import { MapFlag } from '../../uapi/mapType.js';
import { ProgType } from '../../uapi/progType.js';
import type { Kernel } from '../kernel.js';
import type { MapObject, ProgObject } from '../objects.js';
import type { BpfProcess } from '../process.js';
import { memberBytes } from './baseBtf.js';
import type { StructOpsKdata } from './desc.js';
import type { RegisteredStructOps } from './registry.js';
import { StructOpsState, type StructOpsStateValue } from './state.js';

const S = StructOpsState;
const u32At = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset + off, 4).getUint32(0, true);
const allZero = (b: Uint8Array) => b.every((x) => x === 0);

/**
 * StructOpsMapState: what the kernel keeps beside a BPF_MAP_TYPE_STRUCT_OPS map (struct
 * bpf_struct_ops_map, kernel/bpf/bpf_struct_ops.c): the subsystem, the state, the user's view
 * of the value (`uvalue`: program ids in the function-pointer slots), the kernel's data
 * (`kdata`), and the programs it holds. The value is laid out as the base BTF's
 * `struct bpf_struct_ops_<name>`: `common` (refcnt, state) at 0, `data` at `ops.dataOff`.
 */
export class StructOpsMapState {
  readonly ops: RegisteredStructOps;
  readonly link: boolean;
  state: StructOpsStateValue = S.BPF_STRUCT_OPS_STATE_INIT;
  /** The subsystem's hold on the map (registered by update, or by a link): lookup's refcnt. */
  subsystemRefs = 0;
  kdata?: StructOpsKdata;
  #uvalue: Uint8Array;
  #progs: ProgObject[] = [];

  constructor(ops: RegisteredStructOps, flags: number) {
    this.ops = ops;
    this.link = (flags & MapFlag.BPF_F_LINK) !== 0;
    this.#uvalue = new Uint8Array(ops.valueType.size);
  }

  /**
   * lookup: bpf_struct_ops_map_sys_lookup_elem: key ≠ 0 ENOENT; in INIT all zeros; else the
   * user's value with program ids, `state`, and `refcnt` the subsystem's references.
   */
  lookup(key: Uint8Array): Uint8Array {
    if (u32At(key, 0) !== 0) fail(Errno.ENOENT);
    const out = new Uint8Array(this.#uvalue.length);
    if (this.state === S.BPF_STRUCT_OPS_STATE_INIT) return out;
    out.set(this.#uvalue);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, this.subsystemRefs, true);
    dv.setUint32(4, this.state, true);
    return out;
  }

  /**
   * update: bpf_struct_ops_map_update_elem, in the kernel's order: flags EINVAL; key E2BIG;
   * non-zero holes in the struct, state or refcnt EINVAL; not INIT EBUSY; then each member (the module
   * owner must be zero; init_member; other non-functions zero; programs of the right type,
   * struct and member); validate; a BPF_F_LINK map READY, else reg and INUSE holding the map.
   * Any failure after the state check leaves the map in INIT with nothing held. Returns what
   * bpf() returns: 0, or, for a non-zero module owner, the kernel's quirk (6.18 measured): the
   * map is reset and the call returns the last init_member result (1 after tcp's `name`).
   */
  update(k: Kernel, p: BpfProcess, map: MapObject, key: Uint8Array, value: Uint8Array, flags: number): number {
    const { ops } = this;
    if (flags) fail(Errno.EINVAL, 'struct_ops update flags must be 0');
    if (u32At(key, 0) !== 0) fail(Errno.E2BIG);
    const data = value.subarray(ops.dataOff, ops.dataOff + ops.type.size);
    // only the struct's own holes: 6.18 takes non-zero bytes between `common` and `data` (measured, test/differential/structOps.test.ts)
    if (!zeroHoles(ops, ops.type, data)) fail(Errno.EINVAL, 'non-zero padding');
    if (u32At(value, 0) !== 0 || u32At(value, 4) !== 0) fail(Errno.EINVAL, 'refcnt and state must be 0');
    if (this.state !== S.BPF_STRUCT_OPS_STATE_INIT) fail(Errno.EBUSY);
    this.#uvalue.set(value);
    const udata = this.#uvalue.subarray(ops.dataOff, ops.dataOff + ops.type.size);
    const kbytes = new Uint8Array(ops.type.size);
    const progs = new Map<string, ProgObject>();
    // the kernel's `err` through the member loop: a non-zero owner returns it as it stands
    let lastInit = 0;
    try {
      for (const [i, m] of ops.type.members.entries()) {
        const { off, size } = memberBytes(ops.btf, m);
        if (isModulePtr(ops, m.type)) {
          if (!allZero(udata.subarray(off, off + 8))) {
            this.#reset(k);
            return lastInit;
          }
          continue;
        }
        const err = ops.desc.initMember(m, udata, kbytes);
        lastInit = err;
        if (err < 0) fail(-err, `${ops.desc.name}.${m.name}: refused by the subsystem`);
        if (err > 0) continue;
        if (!ops.protos[i]) {
          if (!allZero(udata.subarray(off, off + size))) fail(Errno.EINVAL, `${ops.desc.name}.${m.name} must be 0`);
          continue;
        }
        const fd = new DataView(udata.buffer, udata.byteOffset + off, 8).getInt32(0, true);
        if (!fd) continue;
        const prog = p.progOf(fd);
        if (prog.type !== ProgType.BPF_PROG_TYPE_STRUCT_OPS || prog.attachBtfId !== ops.typeId || prog.expectedAttachType !== i)
          fail(Errno.EINVAL, `${ops.desc.name}.${m.name}: program ${prog.id} is not a struct_ops program for this member`);
        k.hold(prog);
        this.#progs.push(prog);
        progs.set(m.name, prog);
        const id = new DataView(new ArrayBuffer(8));
        id.setBigUint64(0, BigInt(prog.id), true);
        udata.set(new Uint8Array(id.buffer), off);
        kbytes.set(new Uint8Array(id.buffer), off);
      }
      const kdata: StructOpsKdata = { bytes: kbytes, progs };
      const verr = ops.desc.validate?.(kdata) ?? 0;
      if (verr) fail(-verr, `${ops.desc.name}: validate refused it`);
      this.kdata = kdata;
      if (this.link) {
        this.state = S.BPF_STRUCT_OPS_STATE_READY;
        return 0;
      }
      const rerr = ops.desc.reg(kdata);
      if (rerr) fail(-rerr, `${ops.desc.name}: registration refused`);
      k.hold(map);
      this.subsystemRefs = 1;
      this.state = S.BPF_STRUCT_OPS_STATE_INUSE;
      return 0;
    } catch (e) {
      this.#reset(k);
      throw e;
    }
  }

  /** delete: bpf_struct_ops_map_delete_elem: INUSE unregisters (TOBEFREE); TOBEFREE EINPROGRESS; INIT ENOENT; a link map EOPNOTSUPP. */
  delete(k: Kernel, map: MapObject): void {
    if (this.link) fail(Errno.EOPNOTSUPP, 'a BPF_F_LINK struct_ops map is unregistered by its link');
    if (this.state === S.BPF_STRUCT_OPS_STATE_TOBEFREE) fail(Errno.EINPROGRESS);
    if (this.state !== S.BPF_STRUCT_OPS_STATE_INUSE) fail(Errno.ENOENT);
    this.state = S.BPF_STRUCT_OPS_STATE_TOBEFREE;
    this.ops.desc.unreg(this.kdata!);
    this.subsystemRefs = 0;
    k.put(map);
  }

  /** free: the map's last reference went: its programs are let go. */
  free(k: Kernel): void {
    for (const prog of this.#progs.splice(0)) k.put(prog);
  }

  #reset(k: Kernel): void {
    this.free(k);
    this.#uvalue.fill(0);
    this.kdata = undefined;
    this.state = S.BPF_STRUCT_OPS_STATE_INIT;
  }
}

/** isModulePtr: a `struct module *` member (the kernel sets the owner itself; the user's must be 0). */
function isModulePtr(ops: RegisteredStructOps, type: number): boolean {
  const t = ops.btf.skipModifiers(type);
  return t.kind === 2 /* PTR */ && ops.btf.skipModifiers(t.type).name === 'module';
}

/** zeroHoles: check_zero_holes: the bytes between and after `t`'s members are zero in `data`. */
function zeroHoles(ops: RegisteredStructOps, t: BtfType, data: Uint8Array): boolean {
  let end = 0;
  for (const m of t.members) {
    const { off, size } = memberBytes(ops.btf, m);
    if (off > end && !allZero(data.subarray(end, off))) return false;
    end = off + size;
  }
  return t.size <= end || allZero(data.subarray(end, t.size));
}
