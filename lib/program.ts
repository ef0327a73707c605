import type { BpfProcess } from '../kernel/process.js';
import type { ProgObject } from '../kernel/objects.js';
import { Errno } from '../uapi/errno.js';
import { progTypeName } from '../uapi/progType.js';
import { BpfCallError, check } from './bpfCallError.js';

/** TestRunOptions: BPF_PROG_TEST_RUN's inputs: the packet, the context (`xdp_md`, `__sk_buff`), how many runs, which CPU. */
export interface TestRunOptions {
  readonly data?: Uint8Array;
  readonly ctx?: Uint8Array;
  readonly repeat?: number;
  /** Run on this emulated CPU (BPF_F_TEST_RUN_ON_CPU); default 0. */
  readonly cpu?: number;
}

/** TestRunResult: what the run answered: the verdict, the packet and context after it, the average ns per run. */
export interface TestRunResult {
  readonly retval: number;
  readonly data: Uint8Array;
  readonly ctx?: Uint8Array;
  readonly duration: number;
}

/** BPF_F_TEST_RUN_ON_CPU: run on the CPU named in `cpu`. */
const BPF_F_TEST_RUN_ON_CPU = 1;

/**
 * Program is a loaded program (cilium/ebpf's Program; libbpf's bpf_program with bpf_prog_test_run_opts):
 * its fd in its process, `testRun`, pins. `close()` drops the fd.
 */
export class Program {
  readonly name: string;
  readonly #p: BpfProcess;
  readonly #obj: ProgObject;
  #fd: number;

  constructor(p: BpfProcess, fd: number, name?: string) {
    this.#p = p;
    this.#fd = fd;
    this.#obj = p.progOf(fd);
    this.name = name ?? this.#obj.name;
  }

  get fd(): number {
    if (this.#fd < 0) throw new BpfCallError(`program ${this.name}`, Errno.EBADF, 'closed');
    return this.#fd;
  }
  get id(): number {
    return this.#obj.id;
  }
  /** type: the BPF_PROG_TYPE_* number. */
  get type(): number {
    return this.#obj.type;
  }
  /** typeName: bpftool's name for the type (`xdp`, `sched_cls`). */
  get typeName(): string {
    return progTypeName(this.#obj.type);
  }
  /** tag: the program's tag, as bpftool shows it. */
  get tag(): string {
    return this.#obj.tag;
  }

  /**
   * testRun runs the program through BPF_PROG_TEST_RUN (bpf_prog_test_run_opts). The output
   * buffers are as large as the input or larger; a program that grew the packet past them is
   * run again with buffers of the size the first run reported.
   */
  testRun(options: TestRunOptions = {}): TestRunResult {
    const data = options.data ?? new Uint8Array(0);
    let dataOut = new Uint8Array(Math.max(256, data.length * 2));
    let ctxOut = options.ctx ? new Uint8Array(Math.max(options.ctx.length, 64)) : undefined;
    for (let tries = 0; ; tries++) {
      const attr = {
        prog_fd: this.fd,
        data_in: data,
        data_out: dataOut,
        ...(options.ctx ? { ctx_in: options.ctx, ctx_out: ctxOut } : {}),
        repeat: options.repeat ?? 1,
        ...(options.cpu !== undefined ? { cpu: options.cpu, flags: BPF_F_TEST_RUN_ON_CPU } : {}),
        retval: 0,
        duration: 0,
        data_size_out: 0,
        ctx_size_out: 0,
      };
      const r = this.#p.bpf('BPF_PROG_TEST_RUN', attr);
      if (r === -Errno.ENOSPC && tries === 0) {
        dataOut = new Uint8Array(attr.data_size_out);
        if (ctxOut) ctxOut = new Uint8Array(attr.ctx_size_out);
        continue;
      }
      check(r, `program ${this.name}: test run`);
      return {
        retval: attr.retval,
        data: dataOut.slice(0, attr.data_size_out),
        ...(ctxOut ? { ctx: ctxOut.slice(0, attr.ctx_size_out) } : {}),
        duration: attr.duration,
      };
    }
  }

  /** pin puts the program at `path` in the kernel's pin namespace (bpf_obj_pin). */
  pin(path: string): void {
    check(this.#p.bpf('BPF_OBJ_PIN', { pathname: path, bpf_fd: this.fd }), `program ${this.name}: pin ${path}`);
  }

  /** unpin removes the pin at `path`. */
  unpin(path: string): void {
    check(this.#p.kernel.unlink(path), `program ${this.name}: unpin ${path}`);
  }

  /** close drops this fd; calling it again does nothing. */
  close(): void {
    if (this.#fd >= 0) this.#p.close(this.#fd);
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
