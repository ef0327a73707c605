import { spawnSync } from 'node:child_process';

/**
 * Annotations: what a selftest says it expects of one program (bpf_misc.h's __success,
 * __failure, __msg, __retval, __flag), read back from the object's BTF, where clang keeps them
 * as DECL_TAGs `comment:test_expect_…` on the program's FUNC. Only the privileged ones: this
 * runner loads as root.
 */
export interface Annotations {
  expect?: 'success' | 'failure';
  msgs: string[];
  retval?: string;
  flags: string[];
  description?: string;
  /** __auxiliary: loaded along with the tests of its file, not a test of its own. */
  auxiliary?: boolean;
}

/** annotationsOf reads every FUNC's tags with `bpftool btf dump file OBJ` (bpftool's plain text form). */
export function annotationsOf(obj: string): Map<string, Annotations> {
  const out = new Map<string, Annotations>();
  const r = spawnSync('bpftool', ['btf', 'dump', 'file', obj], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) return out;
  const funcs = new Map<number, string>();
  for (const m of r.stdout.matchAll(/^\[(\d+)\] FUNC '([^']*)'/gm)) funcs.set(Number(m[1]), m[2]);
  for (const m of r.stdout.matchAll(/^\[\d+\] DECL_TAG 'comment:(.*)' type_id=(\d+) component_idx=-1$/gm)) {
    const fn = funcs.get(Number(m[2]));
    if (fn === undefined) continue;
    const a = out.get(fn) ?? { msgs: [], flags: [] };
    out.set(fn, a);
    const [key, ...rest] = m[1].split('=');
    const val = rest.join('=');
    if (key === 'test_expect_success') a.expect = 'success';
    else if (key === 'test_expect_failure') a.expect = 'failure';
    else if (key === 'test_expect_msg') a.msgs.push(val.replace(/^\d+=/, ''));
    else if (key === 'test_retval') a.retval = val;
    else if (key === 'test_prog_flags') a.flags.push(val);
    else if (key === 'test_description') a.description = val;
    else if (key === 'test_auxiliary') a.auxiliary = true;
  }
  return out;
}
