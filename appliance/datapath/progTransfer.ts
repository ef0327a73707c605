import type { ShowBtf } from '../../hooks/helpers/btfShow.js';
import { attachMap } from '../../maps/factory.js';
import type { Kernel } from '../../kernel/kernel.js';
import { MapObject, ProgObject } from '../../kernel/objects.js';
import { decode } from '../../vm/decode.js';
import type { AddressSpace } from '../../vm/memory.js';
import { type VerifiedFacts, adoptVerified, verifiedFacts } from '../../vm/verifier/verified.js';

/**
 * ProgTransfer: a loaded program as plain data a worker thread can receive (structured
 * clone): its bytecode and the descriptors of its maps, which live in the shared memory.
 */
export interface ProgTransfer {
  readonly id: number;
  readonly type: number;
  /** expected_attach_type (a DEVMAP entry's program may read egress_ifindex). */
  readonly expectedAttachType: number;
  readonly name: string;
  readonly bytecode: Uint8Array;
  readonly tag: string;
  readonly license: string;
  readonly mapFds: readonly number[];
  readonly maps: readonly {
    readonly id: number;
    readonly desc: number;
    readonly type: number;
    readonly keySize: number;
    readonly valueSize: number;
    readonly maxEntries: number;
  }[];
  /** What the verifier found when the program was loaded (the worker does not verify it again). */
  readonly verified: VerifiedFacts;
  /** The object's BTF types (bpf_snprintf_btf shows them). */
  readonly btf?: ShowBtf;
}

/** exportProgs describes every program the kernel holds (tail calls may reach any of them). */
export function exportProgs(k: Kernel): ProgTransfer[] {
  return [...k.progs.values()].map((p) => ({
    id: p.id,
    type: p.type,
    expectedAttachType: p.expectedAttachType,
    name: p.name,
    bytecode: p.bytecode,
    tag: p.tag,
    license: p.license,
    mapFds: p.mapFds,
    verified: verifiedFacts(p.program),
    ...(p.btf ? { btf: { types: p.btf.types } } : {}),
    maps: p.maps.map((m) => ({
      id: m.id,
      desc: m.map.desc,
      type: m.spec.type,
      keySize: m.spec.keySize,
      valueSize: m.spec.valueSize,
      maxEntries: m.spec.maxEntries,
    })),
  }));
}

/**
 * importProgs rebuilds the programs in a worker, attached to the maps in the shared memory,
 * as the loading thread's verifier accepted them (adoptVerified).
 */
export function importProgs(space: AddressSpace, progs: readonly ProgTransfer[]): Map<number, ProgObject> {
  const maps = new Map<number, MapObject>();
  const out = new Map<number, ProgObject>();
  for (const t of progs) {
    const objs = t.maps.map((m) => {
      let o = maps.get(m.id);
      if (!o)
        maps.set(
          m.id,
          (o = new MapObject(m.id, attachMap(space, m.desc), {
            type: m.type,
            keySize: m.keySize,
            valueSize: m.valueSize,
            maxEntries: m.maxEntries,
          })),
        );
      return o;
    });
    const program = adoptVerified(decode(t.bytecode), t.verified);
    out.set(
      t.id,
      new ProgObject(t.id, {
        type: t.type,
        expectedAttachType: t.expectedAttachType,
        name: t.name,
        bytecode: t.bytecode,
        program,
        tag: t.tag,
        license: t.license,
        maps: objs,
        ...(t.btf ? { btf: t.btf } : {}),
        mapFds: [...t.mapFds],
      }),
    );
  }
  return out;
}
