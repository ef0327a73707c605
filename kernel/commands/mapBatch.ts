import { BpfErrno, Errno, fail } from '../../uapi/errno.js';
import { MapType, UpdateFlag } from '../../uapi/mapType.js';
import type { MapBatchAttr } from '../attr.js';
import type { Kernel } from '../kernel.js';
import type { BpfProcess, Handler } from '../process.js';
import { deleteValue, lookupValue, updateValue } from './mapElem.js';

const T = MapType;
const ARRAYS: readonly number[] = [T.BPF_MAP_TYPE_ARRAY, T.BPF_MAP_TYPE_PERCPU_ARRAY];
const HASHES: readonly number[] = [
  T.BPF_MAP_TYPE_HASH,
  T.BPF_MAP_TYPE_PERCPU_HASH,
  T.BPF_MAP_TYPE_LRU_HASH,
  T.BPF_MAP_TYPE_LRU_PERCPU_HASH,
];

type Kind = 'lookup' | 'lookup_and_delete' | 'update' | 'delete';

/**
 * batch runs one of the four batch commands. Arrays support lookup and update, the hash
 * maps all four, other types none (ENOTSUPP). Lookups walk the keys in get-next-key order,
 * `out_batch` holding the last key returned; when the walk ends the call fails with ENOENT
 * and `count` says how many elements this call still returned. Updates and deletes stop at
 * the first failing element, leaving `count` at the number done.
 */
function batch(kind: Kind): (k: Kernel, p: BpfProcess, a: MapBatchAttr) => number {
  return (k: Kernel, p: BpfProcess, a: MapBatchAttr) => {
    const { map: m, read, write } = p.mapOf(a.map_fd);
    const supported = HASHES.includes(m.spec.type) || (ARRAYS.includes(m.spec.type) && (kind === 'lookup' || kind === 'update'));
    if (!supported) fail(Errno.ENOTSUPP);
    if (kind === 'lookup' ? !read : !write) fail(Errno.EPERM);
    if (a.flags || (a.elem_flags ?? 0) & ~(UpdateFlag.BPF_F_LOCK | 3)) fail(Errno.EINVAL);
    const ks = m.map.keySize;
    const vs = m.map.userValueSize;
    const max = a.count;
    if (!Number.isInteger(max) || max < 0) fail(Errno.EINVAL);
    if (a.keys.length < max * ks || (kind !== 'delete' && (!a.values || a.values.length < max * vs)))
      fail(Errno.EINVAL, 'keys or values too small for count');
    let done = 0;
    try {
      if (kind === 'update' || kind === 'delete') {
        for (; done < max; done++) {
          const key = a.keys.slice(done * ks, (done + 1) * ks);
          if (kind === 'update') updateValue(k, p, m, key, a.values!.slice(done * vs, (done + 1) * vs), a.elem_flags ?? 0);
          else deleteValue(k, m, key);
        }
        return 0;
      }
      if (max === 0) return 0;
      let prev: Uint8Array | null = a.in_batch ?? null;
      const taken: Uint8Array[] = [];
      for (; done < max; ) {
        let key: Uint8Array;
        try {
          key = m.map.nextKey(prev);
        } catch (e) {
          if (e instanceof BpfErrno && e.errno === Errno.ENOENT) break;
          throw e;
        }
        prev = key;
        let value: Uint8Array;
        try {
          value = lookupValue(m, key);
        } catch (e) {
          if (e instanceof BpfErrno && e.errno === Errno.ENOENT) continue;
          throw e;
        }
        a.keys.set(key, done * ks);
        a.values!.set(value, done * vs);
        taken.push(key);
        done++;
      }
      if (kind === 'lookup_and_delete') for (const key of taken) deleteValue(k, m, key);
      if (prev && a.out_batch) a.out_batch.set(prev.subarray(0, Math.min(prev.length, a.out_batch.length)));
      if (done < max) fail(Errno.ENOENT);
      return 0;
    } finally {
      a.count = done;
      if (kind !== 'lookup' && done > 0) k.wrote(m);
    }
  };
}

/** batchCommands: BPF_MAP_{LOOKUP,LOOKUP_AND_DELETE,UPDATE,DELETE}_BATCH. */
export const batchCommands: {
  [C in 'BPF_MAP_LOOKUP_BATCH' | 'BPF_MAP_LOOKUP_AND_DELETE_BATCH' | 'BPF_MAP_UPDATE_BATCH' | 'BPF_MAP_DELETE_BATCH']: Handler<C>;
} = {
  BPF_MAP_LOOKUP_BATCH: batch('lookup'),
  BPF_MAP_LOOKUP_AND_DELETE_BATCH: batch('lookup_and_delete'),
  BPF_MAP_UPDATE_BATCH: batch('update'),
  BPF_MAP_DELETE_BATCH: batch('delete'),
};
