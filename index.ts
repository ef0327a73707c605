/**
 * bpfbox's public face: what a TypeScript program imports to embed the emulator
 * (`import { Kernel, readCollection, loadCollection } from 'bpfbox'`).
 *
 *   bytes ──readCollection──▶ CollectionSpec ──loadCollection──▶ fds by name
 *                                                                   │
 *          kernel.bpf('BPF_MAP_LOOKUP_ELEM' | … | 'BPF_PROG_TEST_RUN', attr)
 *
 * Every name here is the one its own file exports, documented there; this file adds nothing
 * but the list. Parsing and the bpf() door do no I/O: the caller reads the object file.
 * `replay` (files, worker threads) is the one export that does.
 */

// The kernel: the object table, the shared memory, the pins; a process's fds; how programs run.
export { Kernel, type KernelOptions } from './kernel/kernel.js';
export { BpfProcess, type FdEntry } from './kernel/process.js';
export type { PinStore } from './kernel/pins.js';
export type { RuntimeOptions } from './hooks/runtime.js';
export type { Route, Neighbour, Device } from './hooks/helpers/fib.js';

// An object file as data, and loading it through the door (libbpf's bpf_object__open/load).
export { readCollection, type CollectionSpec, type ReadOptions } from './elf/collection.js';
export type { MapDef } from './elf/mapDefs.js';
export type { ProgramSpec } from './elf/programs.js';
export type { MapSpec } from './maps/spec.js';
export { progTypeForSection } from './elf/sectionTypes.js';
export {
  loadCollection,
  loadProgram,
  CollectionLoadError,
  type LoadOptions,
  type LoadedCollection,
  type ProgramLoad,
} from './kernel/loadCollection.js';

// The bpf() door: commands, their attributes, and the UAPI values they carry.
export { Cmd, type CmdName } from './uapi/cmd.js';
export type {
  AttrOf,
  MapCreateAttr,
  MapElemAttr,
  MapNextKeyAttr,
  MapFreezeAttr,
  MapBatchAttr,
  ProgLoadAttr,
  ObjPathAttr,
  GetNextIdAttr,
  GetFdByIdAttr,
  ObjInfoAttr,
  ProgTestRunAttr,
} from './kernel/attr.js';
export type { MapInfo, ProgInfo } from './uapi/info.js';
export { MapType, MapFlag, UpdateFlag, mapTypeName, mapTypeByName } from './uapi/mapType.js';
export { ProgType, progTypeName } from './uapi/progType.js';
export { Errno, BpfErrno, strerror, errnoName } from './uapi/errno.js';
export { XdpAction, XdpMd, XDP_PACKET_HEADROOM, xdpActionName } from './uapi/xdp.js';
export { TcAction, SkBuff } from './uapi/skBuff.js';

// The engines a kernel runs programs on (KernelOptions.runtime.engine).
export { type Engine, type EngineName } from './vm/engine.js';
export { ENGINES, DEFAULT_ENGINE, engineByName } from './vm/engines.js';
export { interpreter } from './vm/interpreter/interpreter.js';
export { jit } from './vm/jit/jit.js';

// Errors: a UserError (bad input: its file, line, offset, field or instruction index, and a
// cause) or a ProgramFault (a program that faulted where nothing verified it); anything else is a bug.
export { UserError } from './uapi/userError.js';
export { BpfError, ProgramFault } from './vm/errors.js';
export { ElfError } from './elf/elfError.js';

// Replay: captures through a program on worker threads (`bpfbox replay`): `replay(captures, options)`
// to iterate (progress, then the summary) or `replay(options)` for the summary alone.
export { type ReplayOptions, type ReplaySummary } from './appliance/datapath/replay.js';
export { replay, ReplayRun, type ReplayRunOptions, type ReplayProgress, type ReplayDone } from './lib/replay.js';
export { ReplayLoadError } from './appliance/datapath/load.js';
export { type MapInit, MapInitError } from './appliance/datapath/mapInit.js';

// The library API (lib/), shaped after libbpf and cilium/ebpf: open an object, change it, load
// it, and use its programs and maps as objects; each call goes through the bpf() door above.
export { openObject, ObjectSpec, type OpenOptions, type LoadObjectOptions, type GlobalVar, type ProgramInfo } from './lib/objectSpec.js';
export { Collection } from './lib/collection.js';
export { BpfMap, type MapKey, type MapValue, type BatchResult } from './lib/bpfMap.js';
export { Program, type TestRunOptions, type TestRunResult } from './lib/program.js';
export { verify, type VerifyOptions, type VerifyResult } from './lib/verify.js';
export { parseVerifierLog, type VerifierLogEntry } from './lib/verifierLog.js';
export { RingBufferReader, type RingBufferOptions } from './lib/ringBuffer.js';
export { openPinned, unpin } from './lib/pins.js';
export { encodeValue, decodeValue, type Typed, type TypedInput } from './lib/typedValue.js';
export { BpfCallError } from './lib/bpfCallError.js';
export type { TypeDesc, MapBtf } from './maps/typeDesc.js';
