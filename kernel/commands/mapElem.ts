import { Desc, readDesc, writeDesc } from '../../maps/descriptor.js';
import { Errno, fail } from '../../uapi/errno.js';
import { createMap } from '../../maps/factory.js';
import type { Kernel } from '../kernel.js';
import type { BpfProcess, Handler } from '../process.js';
import { MapFlag, MapType, UpdateFlag } from '../../uapi/mapType.js';
import { AttachType, ProgType } from '../../uapi/progType.js';
import { type AnyObject, MapObject } from '../objects.js';
import { ArrayMap } from '../../maps/array.js';
import { MAP_FLAGS_ADDED, type MapSpec, checkSpec } from '../../maps/spec.js';
import { kptrFields, zeroSpecialFields } from '../../maps/specialFields.js';
import { structOpsMapCreate } from '../structOps/mapCreate.js';
import { StructOpsMapState } from '../structOps/mapState.js';

const T = MapType;
/** The device maps, whose 8-byte values can name a program to run before a redirected frame leaves. */
const DEVMAPS: readonly number[] = [T.BPF_MAP_TYPE_DEVMAP, T.BPF_MAP_TYPE_DEVMAP_HASH];
const KEYLESS: readonly number[] = [T.BPF_MAP_TYPE_QUEUE, T.BPF_MAP_TYPE_STACK, T.BPF_MAP_TYPE_BLOOM_FILTER];
const MAP_IN_MAP: readonly number[] = [T.BPF_MAP_TYPE_ARRAY_OF_MAPS, T.BPF_MAP_TYPE_HASH_OF_MAPS];
const HASHES: readonly number[] = [
  T.BPF_MAP_TYPE_HASH,
  T.BPF_MAP_TYPE_PERCPU_HASH,
  T.BPF_MAP_TYPE_LRU_HASH,
  T.BPF_MAP_TYPE_LRU_PERCPU_HASH,
];

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const u32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
const le32 = (n: number) => Uint8Array.from([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]);

function keyOf(m: MapObject, key: Uint8Array | null | undefined): Uint8Array | null {
  if (KEYLESS.includes(m.spec.type) || m.map.keySize === 0) {
    if (key && key.length > 0) fail(Errno.EINVAL, 'this map type takes no key');
    return null;
  }
  if (!key) fail(Errno.EINVAL, 'a key is needed');
  if (key.length !== m.map.keySize) fail(Errno.EINVAL, `key is ${key.length} bytes, the map's are ${m.map.keySize}`);
  return key;
}

function out(buf: Uint8Array | undefined, data: Uint8Array): void {
  if (!buf || buf.length < data.length) fail(Errno.EINVAL, `the buffer needs ${data.length} bytes`);
  buf.set(data);
}

/** sameShape: an inner map must match the map-of-maps' template (kernel bpf_map_meta_equal). */
function sameShape(a: MapSpec, b: MapSpec): boolean {
  return (
    a.type === b.type &&
    a.keySize === b.keySize &&
    a.valueSize === b.valueSize &&
    a.maxEntries === b.maxEntries &&
    (a.flags ?? 0) === (b.flags ?? 0)
  );
}

/** lookupValue returns what userspace reads for `key`, translating slot contents to ids. */
export function lookupValue(m: MapObject, key: Uint8Array | null): Uint8Array {
  const v = m.map.lookupBytes(key as Uint8Array);
  if (MAP_IN_MAP.includes(m.spec.type)) return le32(readDesc(m.map.space, u32(v), Desc.ID));
  return zeroSpecialFields(m.spec.btf?.value, v);
}

/** updateValue stores `value` under `key`, turning fds into held objects for fd maps. */
export function updateValue(k: Kernel, p: BpfProcess, m: MapObject, key: Uint8Array | null, value: Uint8Array, flags: number): void {
  let stored = value;
  let held: AnyObject | undefined;
  // cgroup_fd_array_get_ptr: the fd must be a cgroup's; none is here
  if (m.spec.type === T.BPF_MAP_TYPE_CGROUP_ARRAY) fail(Errno.EBADF, 'no fd here is a cgroup');
  if (m.spec.type === T.BPF_MAP_TYPE_PROG_ARRAY) {
    if (value.length !== 4) fail(Errno.EINVAL);
    const prog = p.progOf(u32(value));
    if (m.ownerProgType !== undefined && m.ownerProgType !== prog.type)
      fail(Errno.EINVAL, 'program type differs from the prog array owner');
    m.ownerProgType = prog.type;
    stored = le32(prog.id);
    held = prog;
  } else if (MAP_IN_MAP.includes(m.spec.type)) {
    if (value.length !== 4) fail(Errno.EINVAL);
    const inner = p.mapOf(u32(value)).map;
    if (!sameShape(inner.spec, m.spec.innerMap!)) fail(Errno.EINVAL, 'inner map does not match the template');
    stored = le32(inner.map.desc);
    held = inner;
    // programs reach an inner map through the outer one, never by name: it may be written from now on
    if (inner.map instanceof ArrayMap) inner.map.markWritten();
  } else if (DEVMAPS.includes(m.spec.type) && value.length === 8) {
    // struct bpf_devmap_val { u32 ifindex; union { int fd; u32 id; } bpf_prog; }: a program fd
    // (> 0) becomes its id, and the entry holds the program (__dev_map_alloc_node)
    const fd = new DataView(value.buffer, value.byteOffset, 8).getInt32(4, true);
    stored = Uint8Array.from(value);
    if (fd > 0) {
      if (u32(value) === 0) fail(Errno.EINVAL, 'a devmap entry without an ifindex cannot have a program');
      const prog = p.progOf(fd);
      if (prog.type !== ProgType.BPF_PROG_TYPE_XDP || prog.expectedAttachType !== AttachType.BPF_XDP_DEVMAP)
        fail(Errno.EINVAL, 'a devmap entry takes an XDP program loaded for BPF_XDP_DEVMAP');
      stored.set(le32(prog.id), 4);
      held = prog;
    } else stored.set(le32(0), 4);
  }
  // kptrs: copy_map_value copies around them and bpf_obj_free_fields drops what the element held,
  // so after an update from userspace each is NULL (for per-CPU values, in every CPU's copy)
  const kptrs = kptrFields(m.spec.btf?.value);
  if (kptrs.length) {
    stored = Uint8Array.from(stored);
    const stride = (m.spec.valueSize + 7) & ~7;
    for (let base = 0; base < stored.length; base += stride) for (const f of kptrs) stored.fill(0, base + f.off, base + f.off + 8);
  }
  if (KEYLESS.includes(m.spec.type)) m.map.pushBytes(stored, flags);
  else m.map.updateBytes(key as Uint8Array, stored, flags);
  // the slot's object: the new one held, the old one (if any) let go; a devmap entry without a program holds none
  if (key && (held || DEVMAPS.includes(m.spec.type))) {
    const slot = hex(key);
    const old = m.slots.get(slot);
    if (held) {
      k.hold(held);
      m.slots.set(slot, held);
    } else m.slots.delete(slot);
    if (old) k.put(old);
  }
}

/** deleteValue removes `key`, releasing what its slot held. */
export function deleteValue(k: Kernel, m: MapObject, key: Uint8Array): void {
  m.map.deleteBytes(key);
  const old = m.slots.get(hex(key));
  if (old) {
    m.slots.delete(hex(key));
    k.put(old);
  }
}

type ElemCmd =
  | 'BPF_MAP_CREATE'
  | 'BPF_MAP_LOOKUP_ELEM'
  | 'BPF_MAP_UPDATE_ELEM'
  | 'BPF_MAP_DELETE_ELEM'
  | 'BPF_MAP_GET_NEXT_KEY'
  | 'BPF_MAP_LOOKUP_AND_DELETE_ELEM'
  | 'BPF_MAP_FREEZE';

/** elemCommands: map creation, the element commands and freeze. */
export const elemCommands: { [C in ElemCmd]: Handler<C> } = {
  BPF_MAP_CREATE(k, p, a) {
    if (a.btf_vmlinux_value_type_id && a.map_type !== T.BPF_MAP_TYPE_STRUCT_OPS)
      fail(Errno.EINVAL, 'btf_vmlinux_value_type_id is for struct_ops maps');
    const structOps = a.map_type === T.BPF_MAP_TYPE_STRUCT_OPS ? structOpsMapCreate(k, a) : undefined;
    const innerMap = a.inner_map_fd ? p.mapOf(a.inner_map_fd).map.spec : undefined;
    let spec: MapSpec = {
      type: a.map_type,
      keySize: a.key_size,
      valueSize: a.value_size,
      maxEntries: a.max_entries,
      flags: a.map_flags ?? 0,
      name: a.map_name ?? '',
      mapExtra: a.map_extra ?? 0,
      innerMap,
      btf: structOps?.btf ?? a.btf_desc,
    };
    // the creator's flags checked as given, then those the type adds (a devmap's BPF_F_RDONLY_PROG)
    checkSpec(spec, false);
    if (MAP_FLAGS_ADDED[spec.type]) spec = { ...spec, flags: spec.flags! | MAP_FLAGS_ADDED[spec.type]! };
    const map = createMap(k.memory, spec, k.mapNcpus());
    const obj = new MapObject(k.allocId(), map, spec);
    if (structOps) obj.structOps = new StructOpsMapState(structOps.ops, spec.flags ?? 0);
    writeDesc(k.memory, map.desc, Desc.ID, obj.id);
    k.register(obj);
    return p.install(obj);
  },

  BPF_MAP_LOOKUP_ELEM(_k, p, a) {
    const { map: m, read } = p.mapOf(a.map_fd);
    if (!read) fail(Errno.EPERM);
    if ((a.flags ?? 0) & ~UpdateFlag.BPF_F_LOCK) fail(Errno.EINVAL);
    if (m.spec.type === T.BPF_MAP_TYPE_BLOOM_FILTER) {
      if (!a.value) fail(Errno.EINVAL);
      m.map.peekBytes(a.value.subarray(0, m.map.valueSize));
      return 0;
    }
    // no map_fd_sys_lookup_elem (perf events, cgroups) or no lookup at all (ring buffers)
    if (
      m.spec.type === T.BPF_MAP_TYPE_RINGBUF ||
      m.spec.type === T.BPF_MAP_TYPE_PERF_EVENT_ARRAY ||
      m.spec.type === T.BPF_MAP_TYPE_CGROUP_ARRAY
    )
      fail(Errno.ENOTSUPP);
    if (m.structOps) out(a.value, m.structOps.lookup(keyOf(m, a.key)!));
    else out(a.value, lookupValue(m, keyOf(m, a.key)));
    return 0;
  },

  BPF_MAP_UPDATE_ELEM(k, p, a) {
    const { map: m, write } = p.mapOf(a.map_fd);
    if (!write) fail(Errno.EPERM);
    if (!a.value || a.value.length !== m.map.userValueSize) fail(Errno.EINVAL, `value must be ${m.map.userValueSize} bytes`);
    if (m.structOps) {
      const r = m.structOps.update(k, p, m, keyOf(m, a.key)!, a.value, a.flags ?? 0);
      k.wrote(m);
      return r;
    }
    updateValue(k, p, m, keyOf(m, a.key), a.value, a.flags ?? 0);
    k.wrote(m);
    return 0;
  },

  BPF_MAP_DELETE_ELEM(k, p, a) {
    const { map: m, write } = p.mapOf(a.map_fd);
    if (!write) fail(Errno.EPERM);
    if (KEYLESS.includes(m.spec.type)) fail(m.spec.type === T.BPF_MAP_TYPE_BLOOM_FILTER ? Errno.EOPNOTSUPP : Errno.EINVAL);
    if (m.structOps) m.structOps.delete(k, m);
    else deleteValue(k, m, keyOf(m, a.key)!);
    k.wrote(m);
    return 0;
  },

  BPF_MAP_GET_NEXT_KEY(_k, p, a) {
    const { map: m, read } = p.mapOf(a.map_fd);
    if (!read) fail(Errno.EPERM);
    if (a.key && a.key.length !== m.map.keySize) fail(Errno.EINVAL);
    out(a.next_key, m.map.nextKey(a.key ?? null));
    return 0;
  },

  BPF_MAP_LOOKUP_AND_DELETE_ELEM(k, p, a) {
    const { map: m, write } = p.mapOf(a.map_fd);
    if (!write) fail(Errno.EPERM);
    if (m.spec.type === T.BPF_MAP_TYPE_QUEUE || m.spec.type === T.BPF_MAP_TYPE_STACK) {
      if (a.flags) fail(Errno.EINVAL);
      out(a.value, m.map.lookupAndDeleteBytes(keyOf(m, a.key)));
      k.wrote(m);
      return 0;
    }
    if (!HASHES.includes(m.spec.type)) fail(Errno.ENOTSUPP);
    const key = keyOf(m, a.key)!;
    out(a.value, m.map.lookupBytes(key));
    deleteValue(k, m, key);
    k.wrote(m);
    return 0;
  },

  BPF_MAP_FREEZE(k, p, a) {
    const { map: m, write } = p.mapOf(a.map_fd);
    if (!write) fail(Errno.EPERM); // a frozen map's fds lost write access, so a second freeze is EPERM
    if (m.frozen) fail(Errno.EBUSY);
    m.frozen = true;
    k.wrote(m);
    return 0;
  },
};

/** FD_ACCESS_FLAGS: BPF_F_RDONLY / BPF_F_WRONLY, what OBJ_GET and GET_FD_BY_ID accept. */
export const FD_ACCESS_FLAGS = MapFlag.BPF_F_RDONLY | MapFlag.BPF_F_WRONLY;
