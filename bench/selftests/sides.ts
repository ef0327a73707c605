import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BpfboxResult } from './worker.js';

/** KernelResult: the running kernel's word on one program loaded alone (bench/selftests/kload.c). */
export interface KernelResult {
  readonly name: string;
  readonly type: string;
  /** ok; verifier: BPF_PROG_LOAD refused it; loader: libbpf failed before the kernel saw it. */
  readonly stage: 'ok' | 'verifier' | 'loader';
  readonly errno: number;
  readonly retval?: string;
  readonly msg: string;
}

/**
 * buildKload compiles the loader; its path and which libbpf it has. The selftests of a source
 * tree are written for that tree's libbpf (6.12: libbpf 1.5: `?` sections, tp_btf/lsm.s/
 * iter.s/netfilter names, arena maps); Debian 12's libbpf-dev is 1.1.2 and loads about a tenth of
 * the programs as BPF_PROG_TYPE_UNSPEC or not at all. So libbpf is built from `ksrc`
 * (tools/lib/bpf, static, needs libelf-dev and zlib1g-dev) into the cache, once; Debian's
 * libbpf is the fallback (`--libbpf debian` asks for it).
 */
export function buildKload(cache: string, ksrc: string, which: 'source' | 'debian' = 'source'): { tool: string; libbpf: string } {
  const src = join(import.meta.dirname, '..', '..', '..', 'bench', 'selftests', 'kload.c');
  const tool = join(cache, 'kload');
  if (which === 'source') {
    const out = join(cache, 'libbpf') + '/';
    const lib = join(out, 'libbpf.a');
    const inc = join(out, 'root', 'usr', 'include');
    if (!existsSync(lib)) {
      mkdirSync(out, { recursive: true });
      spawnSync(
        'make',
        [
          '-C',
          join(ksrc, 'tools', 'lib', 'bpf'),
          '-j2',
          'BUILD_STATIC_ONLY=1',
          `OUTPUT=${out}`,
          `DESTDIR=${join(out, 'root')}`,
          'prefix=/usr',
          'install_headers',
          lib,
        ],
        {
          stdio: 'ignore',
        },
      );
    }
    if (existsSync(lib) && spawnSync('cc', ['-O2', '-Wall', `-I${inc}`, '-o', tool, src, lib, '-lelf', '-lz']).status === 0) {
      const v = readFileSync(join(inc, 'bpf', 'libbpf_version.h'), 'utf8');
      const ver = [...v.matchAll(/LIBBPF_M\w+_VERSION (\d+)/g)].map((m) => m[1]).join('.');
      return { tool, libbpf: `libbpf ${ver} built from ${ksrc}/tools/lib/bpf` };
    }
    console.log(`could not build libbpf from ${ksrc}/tools/lib/bpf (needs make, libelf-dev, zlib1g-dev): using Debian's`);
  }
  const r = spawnSync('cc', ['-O2', '-Wall', '-o', tool, src, '-lbpf'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot build kload (needs cc and libbpf-dev): ${r.stderr.split('\n')[0]}`);
  return { tool, libbpf: 'Debian libbpf-dev (-lbpf)' };
}

/** runKernel loads every program of `obj` alone (with the `aux` ones) in the running kernel; test-runs those in `run`. */
export function runKernel(kload: string, obj: string, run: readonly string[], aux: readonly string[] = []): Promise<KernelResult[]> {
  return new Promise((resolve) => {
    const c = spawn(kload, [obj, ...run, ...(aux.length ? ['-a', ...aux] : [])], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('close', () => {
      const rows: KernelResult[] = [];
      for (const line of out.split('\n').filter(Boolean)) {
        const [name, type, stage, errno, retval, ...msg] = line.split('\t');
        rows.push({
          name,
          type,
          stage: stage as KernelResult['stage'],
          errno: Number(errno),
          ...(retval !== '-' ? { retval } : {}),
          msg: msg.join(' '),
        });
      }
      resolve(rows);
    });
  });
}

/** BpfboxObjectResult: each program's result, or why the object as a whole did not load. */
export interface BpfboxObjectResult {
  readonly programs: BpfboxResult[];
  readonly object?: { outcome: 'reject' | 'crash'; msg: string; errno: number };
}

const WORKER = join(import.meta.dirname, 'worker.js');

/**
 * runBpfbox verifies every program of `obj` in bpfbox, in child processes (bench/selftests/worker.ts):
 * a program still running after `boundMs` is a timeout (its child is killed and a new one goes on
 * after it); a child that dies mid-program leaves that program a crash.
 */
export async function runBpfbox(
  obj: string,
  run: readonly string[],
  boundMs: number,
  aux: readonly string[] = [],
): Promise<BpfboxObjectResult> {
  const done = new Map<string, BpfboxResult>();
  for (;;) {
    const r = await oneChild(obj, [...done.keys()], run, boundMs, aux);
    if (r.object) return { programs: [], object: r.object };
    for (const p of r.results) done.set(p.name, p);
    if (r.stuck === undefined) return { programs: [...done.values()] };
    done.set(r.stuck.name, r.stuck);
  }
}

interface ChildRun {
  results: BpfboxResult[];
  stuck?: BpfboxResult;
  object?: BpfboxObjectResult['object'];
}

function oneChild(
  obj: string,
  skip: readonly string[],
  run: readonly string[],
  boundMs: number,
  aux: readonly string[],
): Promise<ChildRun> {
  return new Promise((resolve) => {
    const c = spawn(
      process.execPath,
      ['--max-old-space-size=4096', WORKER, obj, JSON.stringify(skip), JSON.stringify(run), JSON.stringify(aux)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const results: BpfboxResult[] = [];
    let object: ChildRun['object'];
    let current: string | undefined;
    let started = 0;
    let timedOut = false;
    let buf = '';
    let err = '';
    const timer = setInterval(() => {
      if (current !== undefined && performance.now() - started > boundMs) {
        timedOut = true;
        c.kill('SIGKILL');
      }
    }, 200);
    c.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    c.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = JSON.parse(line) as Record<string, unknown>;
        if (typeof m.start === 'string') {
          current = m.start;
          started = performance.now();
        } else if (typeof m.object === 'string') object = m as unknown as ChildRun['object'];
        else if (typeof m.name === 'string') {
          results.push(m as unknown as BpfboxResult);
          current = undefined;
        }
      }
    });
    c.on('close', (code, signal) => {
      clearInterval(timer);
      if (current === undefined) {
        if (code !== 0 && !object && !results.length)
          object = { outcome: 'crash', errno: 0, msg: `worker exited ${code ?? signal}: ${lastErrLine(err)}` };
        resolve({ results, object });
        return;
      }
      const ms = Math.round(performance.now() - started);
      const stuck: BpfboxResult = timedOut
        ? { name: current, outcome: 'timeout', errno: 0, msg: `no decision in ${boundMs / 1000} s`, ms }
        : { name: current, outcome: 'crash', errno: 0, msg: `worker died (${code ?? signal}): ${lastErrLine(err)}`, ms };
      resolve({ results, stuck });
    });
  });
}

function lastErrLine(err: string): string {
  const lines = err.split('\n').filter((l) => l.trim());
  return (lines.find((l) => /Error|heap/.test(l)) ?? lines.at(-1) ?? '').trim().slice(0, 300);
}
