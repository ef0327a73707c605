import { Errno, fail } from '../../uapi/errno.js';
import { AttachType } from '../../uapi/progType.js';
import type { Handler } from '../process.js';
import { LinkObject, type MapObject } from '../objects.js';
import { structOpsLinkCreate } from '../structOps/link.js';

/** BPF_F_REPLACE: BPF_LINK_UPDATE replaces only if the link has the old program or map. */
export const BPF_F_REPLACE = 1 << 2;

type LinkCmd = 'BPF_LINK_CREATE' | 'BPF_LINK_UPDATE' | 'BPF_LINK_DETACH' | 'BPF_LINK_GET_FD_BY_ID' | 'BPF_LINK_GET_NEXT_ID';

/** linkOf: the link behind `fd` (bpf_link_get_from_fd): EBADF if none, EINVAL if it is not a link. */
function linkOf(entry: { obj: unknown }): LinkObject {
  if (!(entry.obj instanceof LinkObject)) fail(Errno.EINVAL, 'fd is not a link');
  return entry.obj;
}

/**
 * linkCommands: BPF links (kernel/bpf/syscall.c link_create, link_update, link_detach): bpfbox
 * has struct_ops links (attach type BPF_STRUCT_OPS); other attach types are EINVAL.
 */
export const linkCommands: { [C in LinkCmd]: Handler<C> } = {
  BPF_LINK_CREATE(k, p, a) {
    if (a.attach_type !== AttachType.BPF_STRUCT_OPS) fail(Errno.EINVAL, `attach type ${a.attach_type}: bpfbox links only BPF_STRUCT_OPS`);
    const map = p.mapOf(a.map_fd ?? -1).map;
    const link = structOpsLinkCreate(k, map);
    k.register(link);
    return p.install(link);
  },

  // link_update: flags only BPF_F_REPLACE; a map link takes new_map_fd, and old_map_fd only with BPF_F_REPLACE
  BPF_LINK_UPDATE(k, p, a) {
    const flags = a.flags ?? 0;
    if (flags & ~BPF_F_REPLACE) fail(Errno.EINVAL);
    const link = linkOf(p.entry(a.link_fd));
    if (!link.impl.updateMap) fail(Errno.EINVAL, 'this link takes no map');
    const next = p.mapOf(a.new_map_fd ?? -1).map;
    let old: MapObject | undefined;
    if (flags & BPF_F_REPLACE) old = p.mapOf(a.old_map_fd ?? -1).map;
    else if (a.old_map_fd) fail(Errno.EINVAL, 'old_map_fd without BPF_F_REPLACE');
    link.impl.updateMap(next, old);
    void k;
    return 0;
  },

  BPF_LINK_DETACH(_k, p, a) {
    linkOf(p.entry(a.link_fd)).impl.detach();
    return 0;
  },

  BPF_LINK_GET_FD_BY_ID(k, p, a) {
    if (a.open_flags) fail(Errno.EINVAL);
    return p.install(k.links.get(a.link_id ?? 0) ?? fail(Errno.ENOENT));
  },

  BPF_LINK_GET_NEXT_ID(k, _p, a) {
    let best = Infinity;
    for (const id of k.links.keys()) if (id > a.start_id && id < best) best = id;
    if (best === Infinity) fail(Errno.ENOENT);
    a.next_id = best;
    return 0;
  },
};
