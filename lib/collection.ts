import type { Kernel } from '../kernel/kernel.js';
import type { LoadedCollection } from '../kernel/loadCollection.js';
import { UserError } from '../uapi/userError.js';
import { BpfMap } from './bpfMap.js';
import { Program } from './program.js';
import { RingBufferReader, type RingBufferOptions } from './ringBuffer.js';

/**
 * Collection is a loaded object (cilium/ebpf's Collection; libbpf's loaded bpf_object): its
 * programs and maps by name, live in `kernel`. `close()` (or `using`) drops every fd; pinned
 * maps and programs live on in the kernel's pin namespace.
 */
export class Collection {
  readonly kernel: Kernel;
  readonly programs: Readonly<Record<string, Program>>;
  readonly maps: Readonly<Record<string, BpfMap>>;

  constructor(kernel: Kernel, loaded: LoadedCollection) {
    this.kernel = kernel;
    const p = kernel.process;
    this.programs = Object.fromEntries([...loaded.programs].map(([name, fd]) => [name, new Program(p, fd, name)]));
    this.maps = Object.fromEntries([...loaded.maps].map(([name, fd]) => [name, new BpfMap(p, fd, name)]));
  }

  /** program returns the program called `name`, or throws naming it. */
  program(name: string): Program {
    const p = this.programs[name];
    if (!p) throw new UserError(`no program ${name} (the collection has ${Object.keys(this.programs).join(', ') || 'none'})`);
    return p;
  }

  /** map returns the map called `name`, or throws naming it. */
  map(name: string): BpfMap {
    const m = this.maps[name];
    if (!m) throw new UserError(`no map ${name} (the collection has ${Object.keys(this.maps).join(', ') || 'none'})`);
    return m;
  }

  /** ringBuffer opens a consumer on the BPF_MAP_TYPE_RINGBUF map `name` (libbpf's ring_buffer__new). */
  ringBuffer(name: string, options: RingBufferOptions = {}): RingBufferReader {
    return new RingBufferReader(this.map(name), this.kernel, options);
  }

  /** close drops every fd of the collection. */
  close(): void {
    for (const p of Object.values(this.programs)) p.close();
    for (const m of Object.values(this.maps)) m.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}
