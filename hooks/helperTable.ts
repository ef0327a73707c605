import { ProgType } from '../uapi/progType.js';

/**
 * helperTable: which helpers (by kernel id) each program type may call, after the kernel's
 * `bpf_base_func_proto` and each type's `get_func_proto` (net/core/filter.c). A program that
 * calls another is refused at load, naming the helper.
 */
const BASE = [1, 2, 3, 5, 6, 7, 8, 12, 42, 87, 88, 89, 93, 94, 125, 130, 131, 132, 133, 134, 160, 164, 165, 181];
const XDP = [...BASE, 23, 25, 28, 44, 51, 54, 65, 69, 188, 189, 190];
const SOCKET = [...BASE, 25, 26, 28, 46, 47, 68];
const TC = [...BASE, 9, 10, 11, 13, 18, 19, 23, 25, 26, 28, 31, 34, 38, 39, 43, 48, 50, 51, 68, 69];

const TABLE: Readonly<Record<number, ReadonlySet<number>>> = {
  [ProgType.BPF_PROG_TYPE_XDP]: new Set(XDP),
  [ProgType.BPF_PROG_TYPE_SOCKET_FILTER]: new Set(SOCKET),
  [ProgType.BPF_PROG_TYPE_SCHED_CLS]: new Set(TC),
  [ProgType.BPF_PROG_TYPE_SCHED_ACT]: new Set(TC),
};

/** helperAllowed tells whether a program of `type` may call helper `id` (types bpfbox does not model allow all). */
export function helperAllowed(type: number, id: number): boolean {
  const set = TABLE[type];
  return set ? set.has(id) : true;
}

/** helpersOf lists the helper ids a modelled type may call. */
export function helpersOf(type: number): readonly number[] {
  return [...(TABLE[type] ?? [])];
}

/** typeModelled tells whether bpfbox runs programs of `type` (so every helper they call must exist here). */
export function typeModelled(type: number): boolean {
  return TABLE[type] !== undefined;
}
