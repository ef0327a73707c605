import type { Instruction } from '../vm/instruction.js';
import { LDDW, Pseudo } from '../vm/opcodes.js';
import type { MapInfo } from '../vm/verifier/state.js';
import type { BpfProcess } from './process.js';
import { MapFlag, MapType } from '../uapi/mapType.js';
import { MapObject } from './objects.js';
import type { MapSpec } from '../maps/spec.js';
import { kptrFields, specialField } from '../maps/specialFields.js';

/** mapInfo: what the verifier needs of a map (spec.ts's MapSpec and whether it is frozen). */
export function mapInfo(spec: MapSpec, frozen = false): MapInfo {
  const ofMaps = spec.type === MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS || spec.type === MapType.BPF_MAP_TYPE_HASH_OF_MAPS;
  const v = spec.btf?.value;
  return {
    name: spec.name ?? '',
    btf: v !== undefined,
    spinLock: specialField(v, 'bpf_spin_lock'),
    timer: specialField(v, 'bpf_timer'),
    ...(kptrFields(v).length ? { kptrs: kptrFields(v) } : {}),
    type: spec.type,
    keySize: spec.keySize,
    valueSize: spec.valueSize,
    maxEntries: spec.maxEntries,
    array: spec.type === MapType.BPF_MAP_TYPE_ARRAY,
    readonlyProg: ((spec.flags ?? 0) & MapFlag.BPF_F_RDONLY_PROG) !== 0,
    writeonlyProg: ((spec.flags ?? 0) & MapFlag.BPF_F_WRONLY_PROG) !== 0,
    frozen,
    ofMaps,
    inner: ofMaps && spec.innerMap ? mapInfo(spec.innerMap) : undefined,
  };
}

/**
 * verifierMaps: the maps a program's lddw instructions name by fd (BPF_PSEUDO_MAP_FD and
 * _VALUE), indexed by that fd, as the verifier takes them. Fds that are not maps stay empty
 * (the verifier refuses them with EBADF).
 */
export function verifierMaps(p: BpfProcess, insns: readonly Instruction[]): MapInfo[] {
  const out: MapInfo[] = [];
  for (const i of insns) {
    if (i.opcode !== LDDW || (i.src !== Pseudo.BPF_PSEUDO_MAP_FD && i.src !== Pseudo.BPF_PSEUDO_MAP_VALUE)) continue;
    const fd = Number(BigInt.asUintN(32, i.imm));
    const o = p.fds.get(fd)?.obj;
    if (!(o instanceof MapObject) || out[fd]) continue;
    const info = mapInfo(o.spec, o.frozen);
    // bpf_map_is_rdonly and array_map_direct_value_addr: the value is a constant the verifier reads
    const direct = info.frozen && info.readonlyProg && info.array && info.maxEntries === 1;
    out[fd] = direct ? { ...info, constValue: Uint8Array.from(o.map.lookupBytes(new Uint8Array(4))) } : info;
  }
  return out;
}
