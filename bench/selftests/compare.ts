import type { Annotations } from './annotations.js';
import { causeOf } from './logLine.js';
import type { KernelResult } from './sides.js';
import type { BpfboxResult } from './worker.js';

/**
 * Category: where bpfbox and the running kernel stand on one program. `unsafe` (bpfbox accepts
 * what the kernel refuses) is the safety bug the issue wants at zero; `falseReject` refuses what
 * the kernel loads. `loader`: libbpf could not hand the program to the kernel at all (a ksym of
 * bpf_testmod, a relocation), so there is no kernel decision to hold bpfbox to. `early`: the
 * kernel refused the program before its verifier looked at the instructions (kernelRefusedEarly),
 * so its refusal says nothing of the program's safety: not judged either.
 */
export type Category = 'agreeAccept' | 'agreeReject' | 'unsafe' | 'falseReject' | 'timeout' | 'crash' | 'loader' | 'early';

export const CATEGORIES: readonly Category[] = [
  'agreeAccept',
  'agreeReject',
  'unsafe',
  'falseReject',
  'timeout',
  'crash',
  'loader',
  'early',
];

const EPERM = 1;

/**
 * kernelRefusedEarly: refusals of the running kernel that come before verification, not from it:
 * EPERM with an empty verifier log (this VM's kernel so refuses every program attached through
 * BTF: `lsm/`, `fentry`/`fexit`, `tp_btf`, `iter/`: at attach-target resolution, before do_check
 * writes a line), and CO-RE relocations libbpf could not resolve and poisoned (the selftests give
 * those programs a custom BTF, `__btf_path`, that neither side is given here). Also this VM's
 * kernel's `bpf_dynptr_slice_rdwr() is not allowed` (EPERM) for every program type, a rule that is
 * not in the kernel's source (6.12's verifier.c accepts the kfunc where the type may write packets,
 * and bpfbox follows it): a local restriction, not the verifier's judgement of the program.
 */
export function kernelRefusedEarly(k: KernelResult): boolean {
  if (k.stage !== 'verifier') return false;
  if (k.errno === EPERM && /BPF program load failed: Operation not permitted$/.test(k.msg)) return true;
  if (k.errno === EPERM && /bpf_dynptr_slice_rdwr\(\) is not allowed/.test(k.msg)) return true;
  return /^failed to resolve CO-RE relocation /.test(k.msg);
}

/** ProgramRow: one program's whole comparison, as the results JSON keeps it. */
export interface ProgramRow {
  readonly file: string;
  readonly name: string;
  readonly type: string;
  readonly category: Category;
  readonly kernel: KernelResult;
  readonly bpfbox: BpfboxResult;
  /** For agreeing refusals: the final log lines are identical / the errnos are. */
  readonly msgMatch?: boolean;
  readonly errnoMatch?: boolean;
  /** For __retval programs both loaded: the two test runs' retvals agree. */
  readonly retvalMatch?: boolean;
  /** The annotation's expectation, and whether the running kernel disagrees with it. */
  readonly expect?: 'success' | 'failure';
  readonly annotationDiffers?: boolean;
  /** The grouping key: the kernel's message folded for unsafe, bpfbox's for false rejections. */
  readonly cause?: string;
  readonly flags?: string[];
}

/** compareProgram puts one program's two results side by side. */
export function compareProgram(file: string, k: KernelResult, b: BpfboxResult, a: Annotations | undefined): ProgramRow {
  const kAccept = k.stage === 'ok';
  let category: Category;
  if (k.stage === 'loader') category = 'loader';
  else if (kernelRefusedEarly(k)) category = 'early';
  else if (b.outcome === 'timeout') category = 'timeout';
  else if (b.outcome === 'crash') category = 'crash';
  else if (b.outcome === 'accept') category = kAccept ? 'agreeAccept' : 'unsafe';
  else category = kAccept ? 'falseReject' : 'agreeReject';
  const row: ProgramRow = {
    file,
    name: k.name,
    type: k.type,
    category,
    kernel: k,
    bpfbox: b,
    ...(category === 'agreeReject' ? { msgMatch: k.msg === b.msg, errnoMatch: k.errno === b.errno } : {}),
    ...(k.retval !== undefined && b.retval !== undefined ? { retvalMatch: k.retval === b.retval } : {}),
    ...(a?.expect ? { expect: a.expect, annotationDiffers: k.stage !== 'loader' && (a.expect === 'success') !== kAccept } : {}),
    ...(category === 'unsafe' ? { cause: causeOf(k.msg) } : {}),
    ...(category === 'falseReject' || category === 'crash' ? { cause: causeOf(b.msg) } : {}),
    ...(a?.flags.length ? { flags: a.flags } : {}),
  };
  return row;
}

/** Tally: counts per category plus the refusal-message and retval agreement. */
export interface Tally {
  total: number;
  counts: Record<Category, number>;
  msgMatch: number;
  errnoMatch: number;
  retvalCompared: number;
  retvalMatch: number;
  annotationDiffers: number;
}

export function emptyTally(): Tally {
  return {
    total: 0,
    counts: Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>,
    msgMatch: 0,
    errnoMatch: 0,
    retvalCompared: 0,
    retvalMatch: 0,
    annotationDiffers: 0,
  };
}

export function add(t: Tally, r: ProgramRow): void {
  t.total++;
  t.counts[r.category]++;
  if (r.msgMatch) t.msgMatch++;
  if (r.errnoMatch) t.errnoMatch++;
  if (r.retvalMatch !== undefined) {
    t.retvalCompared++;
    if (r.retvalMatch) t.retvalMatch++;
  }
  if (r.annotationDiffers) t.annotationDiffers++;
}

/** CauseGroup: programs with one folded message, with an example. */
export interface CauseGroup {
  readonly cause: string;
  readonly count: number;
  readonly example: string;
  readonly exampleMsg: string;
}

/** causes groups the rows of one category by their folded message, most frequent first. */
export function causes(rows: readonly ProgramRow[], category: Category): CauseGroup[] {
  const groups = new Map<string, ProgramRow[]>();
  for (const r of rows.filter((r) => r.category === category)) {
    const key = r.cause ?? '';
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.entries()]
    .map(([cause, rs]) => ({
      cause,
      count: rs.length,
      example: `${rs[0].file}:${rs[0].name}`,
      exampleMsg: category === 'unsafe' ? rs[0].kernel.msg : rs[0].bpfbox.msg,
    }))
    .sort((a, b) => b.count - a.count || a.cause.localeCompare(b.cause));
}
