import { Errno, fail } from '../../uapi/errno.js';

/** NAME_MAX: the longest name of one path component, in bytes (include/uapi/linux/limits.h). */
export const NAME_MAX = 255;

/** TMP_PATTERN: temporary files (writeFileAtomic's `.tmp-<pid>-<random>`, older versions' `<name>.tmp-<pid>-<random>`), which no listing shows. */
export const TMP_PATTERN = /\.tmp-\d+-/;

/**
 * RESERVED: bpfbox's own files in the state directory: `.run` (control sockets), `.lock`,
 * `.held` (maps only pinned programs hold), `.next_id`. Every name starting with '.' is kept for
 * these and hidden from listings, so none may be pinned or made a directory.
 */
export const RESERVED = ['.run', '.lock', '.held', '.next_id'] as const;

/**
 * checkNameLength refuses a path with a component longer than NAME_MAX bytes (ENAMETOOLONG, as the
 * kernel's path walk does), on every access: the file system would refuse it with a raw error.
 */
export function checkNameLength(path: string): void {
  for (const c of path.split('/'))
    if (Buffer.byteLength(c) > NAME_MAX) fail(Errno.ENAMETOOLONG, `${path.slice(0, 80)}…: a name is at most ${NAME_MAX} bytes (NAME_MAX)`);
}

/**
 * checkNewName checks the names of a path about to be created (a pin, a directory) as bpffs
 * would (no '/', which splitting took care of, not '.' or '..', no '.' anywhere: EPERM, at most
 * NAME_MAX bytes; so none is one of bpfbox's RESERVED names or temporaries), and no control
 * character (a newline would split `bpftool map show`'s listing).
 * `rel` is the path below the bpffs root.
 */
export function checkNewName(path: string, rel: string): void {
  checkNameLength(path);
  for (const c of rel.split('/')) {
    if (c === '') continue;
    if (c === '.' || c === '..') fail(Errno.EINVAL, `${path}: '.' and '..' are not names`);
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(c)) fail(Errno.EINVAL, `${JSON.stringify(path)}: a name may not hold a newline or other control character`);
    // bpf_lookup (kernel/bpf/inode.c): "dots in names are reserved for future extensions", EPERM;
    // bpfbox keeps its own files (RESERVED, temporaries) under such names
    if (c.includes('.'))
      fail(
        Errno.EPERM,
        `${path}: bpffs reserves '.' in names (libbpf's pinmaps writes '_' for it; bpfbox's own files: ${RESERVED.join(', ')})`,
      );
  }
}

/**
 * pinmapsName: the name `pinmaps DIR` pins a map under, as libbpf's bpf_object__pin_maps does
 * (sanitize_pin_path: bpffs refuses '.', so `.rodata.str1.1` becomes `_rodata_str1_1`).
 */
export const pinmapsName = (mapName: string): string => mapName.replaceAll('.', '_');
