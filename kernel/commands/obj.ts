import { FD_ACCESS_FLAGS } from './mapElem.js';
import { Errno, fail } from '../../uapi/errno.js';
import type { Kernel } from '../kernel.js';
import type { Handler } from '../process.js';
import { LinkObject, MapObject } from '../objects.js';
import type { MapInfo, ProgInfo } from '../../uapi/info.js';

type ObjCmd =
  | 'BPF_OBJ_PIN'
  | 'BPF_OBJ_GET'
  | 'BPF_MAP_GET_NEXT_ID'
  | 'BPF_PROG_GET_NEXT_ID'
  | 'BPF_MAP_GET_FD_BY_ID'
  | 'BPF_PROG_GET_FD_BY_ID'
  | 'BPF_OBJ_GET_INFO_BY_FD';

function nextId(ids: Iterable<number>, start: number): number {
  let best = Infinity;
  for (const id of ids) if (id > start && id < best) best = id;
  return best === Infinity ? fail(Errno.ENOENT) : best;
}

/** mapInfo describes a map as BPF_OBJ_GET_INFO_BY_FD does. */
export function mapInfo(m: MapObject): MapInfo {
  return {
    kind: 'map',
    type: m.spec.type,
    id: m.id,
    key_size: m.spec.keySize,
    value_size: m.spec.valueSize,
    max_entries: m.spec.maxEntries,
    map_flags: m.spec.flags ?? 0,
    name: m.spec.name ?? '',
    map_extra: m.spec.mapExtra ?? 0,
    ...(m.structOps ? { btf_vmlinux_value_type_id: m.structOps.ops.valueTypeId } : {}),
    frozen: m.frozen,
    bytes_memlock: m.map.bytes,
  };
}

/** progInfo describes a program as BPF_OBJ_GET_INFO_BY_FD does. */
export function progInfo(k: Kernel, id: number): ProgInfo {
  const p = k.progs.get(id)!;
  return {
    kind: 'prog',
    type: p.type,
    id: p.id,
    tag: p.tag,
    name: p.name,
    xlated_prog_len: p.bytecode.length,
    jited_prog_len: 0,
    load_time: p.loadedAt,
    created_by_uid: 0,
    map_ids: [...p.maps, ...p.bound].map((m) => m.id),
    nr_map_ids: p.maps.length + p.bound.length,
    gpl_compatible: p.gplCompatible,
    run_cnt: p.runCnt,
    run_time_ns: p.runTimeNs,
  };
}

/** objCommands: pins, ids, and object info. */
export const objCommands: { [C in ObjCmd]: Handler<C> } = {
  BPF_OBJ_PIN(k, p, a) {
    if (a.file_flags) fail(Errno.EINVAL);
    const obj = p.entry(a.bpf_fd ?? -1).obj;
    k.pins.pin(a.pathname, obj);
    k.hold(obj);
    return 0;
  },

  BPF_OBJ_GET(k, p, a) {
    const flags = a.file_flags ?? 0;
    if (a.bpf_fd || flags & ~FD_ACCESS_FLAGS || flags === FD_ACCESS_FLAGS) fail(Errno.EINVAL);
    return p.install(k.pins.get(a.pathname), flags);
  },

  BPF_MAP_GET_NEXT_ID(k, _p, a) {
    a.next_id = nextId(k.maps.keys(), a.start_id);
    return 0;
  },

  BPF_PROG_GET_NEXT_ID(k, _p, a) {
    a.next_id = nextId(k.progs.keys(), a.start_id);
    return 0;
  },

  BPF_MAP_GET_FD_BY_ID(k, p, a) {
    const flags = a.open_flags ?? 0;
    if (flags & ~FD_ACCESS_FLAGS || flags === FD_ACCESS_FLAGS) fail(Errno.EINVAL);
    return p.install(k.maps.get(a.map_id ?? 0) ?? fail(Errno.ENOENT), flags);
  },

  BPF_PROG_GET_FD_BY_ID(k, p, a) {
    if (a.open_flags) fail(Errno.EINVAL);
    return p.install(k.progs.get(a.prog_id ?? 0) ?? fail(Errno.ENOENT));
  },

  BPF_OBJ_GET_INFO_BY_FD(k, p, a) {
    const obj = p.entry(a.bpf_fd).obj;
    a.info =
      obj instanceof MapObject
        ? mapInfo(obj)
        : obj instanceof LinkObject
          ? { kind: 'link', type: obj.linkType, id: obj.id, prog_id: 0, attach_type: obj.attachType, ...obj.impl.info() }
          : progInfo(k, obj.id);
    return 0;
  },
};
