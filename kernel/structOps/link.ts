import { Errno, fail } from '../../uapi/errno.js';
import { MapType } from '../../uapi/mapType.js';
import { AttachType } from '../../uapi/progType.js';
import type { Kernel } from '../kernel.js';
import { LinkObject, type MapObject } from '../objects.js';
import { StructOpsState } from './state.js';

/** BPF_LINK_TYPE_STRUCT_OPS: enum bpf_link_type's struct_ops link. */
export const BPF_LINK_TYPE_STRUCT_OPS = 9;

/** validToReg: bpf_struct_ops_valid_to_reg: a BPF_F_LINK struct_ops map in state READY. */
function validToReg(m: MapObject): boolean {
  return (
    m.spec.type === MapType.BPF_MAP_TYPE_STRUCT_OPS &&
    !!m.structOps?.link &&
    m.structOps.state === StructOpsState.BPF_STRUCT_OPS_STATE_READY
  );
}

/**
 * structOpsLinkCreate: bpf_struct_ops_link_create: a READY link map (EINVAL otherwise) is
 * registered with its subsystem (whose refusal, EEXIST for a second link on the same map,
 * fails the create); the link holds the map until it is detached or released. Returns the
 * new link, not yet in the object table.
 */
export function structOpsLinkCreate(k: Kernel, map: MapObject): LinkObject {
  if (!validToReg(map)) fail(Errno.EINVAL, 'map is not a READY BPF_F_LINK struct_ops map');
  let cur: MapObject | undefined;
  const link: LinkObject = new LinkObject(k.allocId(), {
    linkType: BPF_LINK_TYPE_STRUCT_OPS,
    attachType: AttachType.BPF_STRUCT_OPS,
    impl: {
      info: () => ({ map_id: cur?.id ?? 0 }),
      // bpf_struct_ops_map_link_update
      updateMap(next, expectedOld) {
        if (!validToReg(next)) fail(Errno.EINVAL, 'new map is not a READY BPF_F_LINK struct_ops map');
        const desc = next.structOps!.ops.desc;
        if (!desc.update) fail(Errno.EOPNOTSUPP, `${desc.name} cannot be updated`);
        if (!cur) fail(Errno.ENOLINK, 'link is detached');
        if (expectedOld && cur !== expectedOld) fail(Errno.EPERM, 'old map is not the link’s');
        if (cur.structOps!.ops !== next.structOps!.ops) fail(Errno.EINVAL, 'maps are of different struct_ops');
        const err = desc.update(next.structOps!.kdata!, cur.structOps!.kdata!, link);
        if (err) fail(-err, `${desc.name}: update refused`);
        k.hold(next);
        next.structOps!.subsystemRefs = 1;
        drop(cur);
        cur = next;
      },
      // bpf_struct_ops_map_link_detach: 0, also when already detached
      detach() {
        if (!cur) return;
        cur.structOps!.ops.desc.unreg(cur.structOps!.kdata!, link);
        drop(cur);
        cur = undefined;
      },
      // bpf_struct_ops_map_link_dealloc
      release() {
        if (!cur) return;
        cur.structOps!.ops.desc.unreg(cur.structOps!.kdata!, link);
        drop(cur);
        cur = undefined;
      },
    },
  });
  const drop = (m: MapObject) => {
    m.structOps!.subsystemRefs = 0;
    k.put(m);
  };
  const err = map.structOps!.ops.desc.reg(map.structOps!.kdata!, link);
  if (err) fail(-err, `${map.structOps!.ops.desc.name}: registration refused`);
  k.hold(map);
  map.structOps!.subsystemRefs = 1;
  cur = map;
  return link;
}
