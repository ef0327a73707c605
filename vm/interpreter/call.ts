import { RuntimeError } from '../errors.js';
import type { Helper, HelperEnv } from '../helpers.js';
import type { Instruction } from '../instruction.js';
import { BPF_FUNC_tail_call, MAX_BPF_STACK, MAX_CALL_FRAMES, MAX_TAIL_CALL_CNT } from '../opcodes.js';
import { type ExecState, type Step, Stop } from './state.js';

const u64 = (st: ExecState, r: number): bigint => (BigInt(st.hi[r] >>> 0) << 32n) | BigInt(st.lo[r] >>> 0);

function invoke(st: ExecState, helper: Helper, slot: number, env: HelperEnv): void {
  let r0: bigint;
  try {
    r0 = helper.fn(u64(st, 1), u64(st, 2), u64(st, 3), u64(st, 4), u64(st, 5), env);
  } catch (e) {
    if (e instanceof RuntimeError) throw e;
    throw new RuntimeError(slot, `helper ${helper.name}#${helper.id} failed`, { cause: e });
  }
  st.lo[0] = Number(BigInt.asIntN(32, r0));
  st.hi[0] = Number(BigInt.asIntN(32, r0 >> 32n));
}

/** compileHelperCall builds the Step for `call N`: a helper by id, or a tail call (id 12). */
export function compileHelperCall(i: Instruction, st: ExecState, slot: number, next: number): Step {
  const id = Number(i.imm);
  if (id === BPF_FUNC_tail_call && st.machine.tailCall) {
    const tailCall = st.machine.tailCall;
    return () => {
      if (st.tailCount >= MAX_TAIL_CALL_CNT) return next; // the chain limit: fall through
      const target = tailCall(st.lo[2] >>> 0, st.lo[3] >>> 0);
      if (!target) return next; // the kernel falls through when the slot is empty
      st.tailTarget = target;
      return Stop.TAIL_CALL;
    };
  }
  const helper = st.machine.helpers.get(id);
  if (!helper) throw new RuntimeError(slot, `invalid func unknown#${id}`);
  const env: HelperEnv = { memory: st.machine.memory, pc: slot, callback: (fn, ...args) => st.callback!(fn, ...args) };
  return () => (invoke(st, helper, slot, env), next);
}

/** compileCallx builds the Step for `callx rN`: the helper whose id is in the register. */
export function compileCallx(i: Instruction, st: ExecState, slot: number, next: number): Step {
  const r = i.dst;
  return () => {
    const id = st.hi[r] === 0 ? st.lo[r] >>> 0 : -1;
    const helper = st.machine.helpers.get(id);
    if (!helper) throw new RuntimeError(slot, `callx r${r}: no helper with id ${u64(st, r)}`);
    invoke(st, helper, slot, { memory: st.machine.memory, pc: slot, callback: (fn, ...args) => st.callback!(fn, ...args) });
    return next;
  };
}

/** compileLocalCall builds the Step for a bpf-to-bpf call: a new frame with its own stack. */
export function compileLocalCall(st: ExecState, slot: number, target: number, next: number): Step {
  return () => {
    if (!st.pushFrame(next, MAX_CALL_FRAMES)) {
      throw new RuntimeError(slot, `the call stack of ${MAX_CALL_FRAMES + 1} frames is too deep`);
    }
    st.lo[10] -= MAX_BPF_STACK;
    return target;
  };
}

/** compileExit builds the Step for `exit`: return to the caller's frame, or end the run. */
export function compileExit(st: ExecState): Step {
  return () => (st.depth === 0 ? Stop.EXIT : st.popFrame());
}
