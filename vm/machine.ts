import type { Machine } from './engine.js';
import { HelperRegistry } from './helpers.js';
import { AddressSpace, Perm, type Region } from './memory.js';
import { MAX_BPF_STACK, MAX_CALL_FRAMES } from './opcodes.js';

/** MachineOptions: what a Machine is built from; everything but the memory is optional. */
export interface MachineOptions {
  readonly memory?: AddressSpace;
  readonly helpers?: HelperRegistry;
  readonly tailCall?: Machine['tailCall'];
  readonly packetLoad?: Machine['packetLoad'];
  readonly resolveImm64?: Machine['resolveImm64'];
  /** Name of the stack region (e.g. `stack/cpu0`). */
  readonly name?: string;
  /** A stack region the owner mapped already (a worker attaching to a shared space). */
  readonly stack?: Region;
}

/**
 * createMachine maps a stack of MAX_CALL_FRAMES frames of MAX_BPF_STACK bytes and returns a
 * Machine (one emulated CPU). Frame n of a call chain lives 512*n bytes below the top.
 */
export function createMachine(options: MachineOptions = {}): Machine {
  const memory = options.memory ?? new AddressSpace();
  const stack = options.stack ?? memory.map(MAX_CALL_FRAMES * MAX_BPF_STACK, Perm.RW, options.name ?? 'stack');
  return {
    memory,
    stack,
    helpers: options.helpers ?? new HelperRegistry(),
    tailCall: options.tailCall,
    packetLoad: options.packetLoad,
    resolveImm64: options.resolveImm64,
  };
}
