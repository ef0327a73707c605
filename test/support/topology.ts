import { spawn as spawnChild, spawnSync, type ChildProcess, type SpawnOptions, type SpawnSyncReturns } from 'node:child_process';
import { statSync } from 'node:fs';

/**
 * Topology: the live tests' and the live bench's network, built for one run out of network
 * namespaces and veth pairs, so traffic never leaves them:
 *
 *   nsA            nsB                          nsC
 *   a0 ---veth--- b0   (appliance / bridge)  b1 ---veth--- c0
 *   10.77.0.1                                               10.77.0.2
 *   02:00:00:00:00:0a                                        02:00:00:00:00:0c
 *                  b2 ---veth--- d0  (nsD, with `withD`)
 *                                10.77.0.3, 02:00:00:00:00:0d
 *
 * Namespaces are named `bpfbox-<pid>-<tag>-A/B/C/D`. Every device is up, lo too; IPv6 is off in
 * every namespace (no router solicitations or MLD reports in the counts); a0, c0 and d0 know each
 * other's MACs through permanent neighbour entries (no ARP on the wire); b-side MACs are the
 * kernel's random ones; offloads are left at the kernel's defaults (a test decides).
 * `cleanup()` (idempotent, and run at process exit as a last resort) kills what `spawn` and
 * `capture` started and deletes the namespaces, which takes their veths with them.
 */
export class Topology {
  readonly nsA: string;
  readonly nsB: string;
  readonly nsC: string;
  /** nsD, or undefined without `withD`. */
  readonly nsD: string | undefined;
  readonly #made: string[] = [];
  readonly #children = new Set<ChildProcess>();
  #closed = false;

  private constructor(tag: string, withD: boolean) {
    const base = `bpfbox-${process.pid}-${tag}`;
    this.nsA = `${base}-A`;
    this.nsB = `${base}-B`;
    this.nsC = `${base}-C`;
    this.nsD = withD ? `${base}-D` : undefined;
  }

  /**
   * available says why a topology cannot be built here (not Linux, not root, `ip` or one of
   * `tools` missing, `ip netns add` refused), or undefined when it can.
   */
  static available(tools: readonly string[] = []): string | undefined {
    if (process.platform !== 'linux') return 'not Linux';
    if (process.getuid?.() !== 0) return 'not root (network namespaces and veth pairs need CAP_SYS_ADMIN and CAP_NET_ADMIN)';
    for (const t of ['ip', ...tools]) if (!onPath(t)) return `${t} is not installed`;
    const probe = `bpfbox-${process.pid}-probe`;
    const r = run(['ip', 'netns', 'add', probe]);
    if (r.status !== 0) return `ip netns add failed: ${oneLine(r)}`;
    run(['ip', 'netns', 'del', probe]);
    return undefined;
  }

  /** create builds the topology (see the class comment); on any failure it cleans up and throws one line naming the step. */
  static create(tag: string, options: TopologyOptions = {}): Topology {
    if (!/^[A-Za-z0-9_]{1,24}$/.test(tag)) throw new Error(`topology: tag ${JSON.stringify(tag)} must be 1-24 letters, digits or _`);
    const t = new Topology(tag, options.withD ?? false);
    LIVE.add(t);
    try {
      t.#build();
    } catch (e) {
      t.cleanup();
      throw e;
    }
    return t;
  }

  /** hosts: the end hosts (namespace, device, IPv4 address, MAC), A, C and (with `withD`) D. */
  get hosts(): readonly Host[] {
    const h: Host[] = [
      { ns: this.nsA, dev: 'a0', ip: HOST_A.ip, mac: HOST_A.mac },
      { ns: this.nsC, dev: 'c0', ip: HOST_C.ip, mac: HOST_C.mac },
    ];
    if (this.nsD) h.push({ ns: this.nsD, dev: 'd0', ip: HOST_D.ip, mac: HOST_D.mac });
    return h;
  }

  #build(): void {
    const namespaces = [this.nsA, this.nsB, this.nsC, ...(this.nsD ? [this.nsD] : [])];
    for (const ns of namespaces) {
      must(['ip', 'netns', 'add', ns], `create namespace ${ns}`);
      this.#made.push(ns);
      // before any veth exists, so new devices inherit `default` and never send a router solicitation
      for (const key of ['all', 'default']) this.exec(ns, ['sysctl', '-qw', `net.ipv6.conf.${key}.disable_ipv6=1`]);
      this.exec(ns, ['ip', 'link', 'set', 'lo', 'up']);
    }
    const pairs: [string, string, string, string][] = [
      [this.nsA, 'a0', this.nsB, 'b0'],
      [this.nsB, 'b1', this.nsC, 'c0'],
    ];
    if (this.nsD) pairs.push([this.nsB, 'b2', this.nsD, 'd0']);
    for (const [ns1, dev1, ns2, dev2] of pairs)
      must(
        ['ip', 'link', 'add', dev1, 'netns', ns1, 'type', 'veth', 'peer', 'name', dev2, 'netns', ns2],
        `veth ${ns1}:${dev1} - ${ns2}:${dev2}`,
      );
    for (const h of this.hosts) {
      this.exec(h.ns, ['ip', 'link', 'set', h.dev, 'address', h.mac]);
      this.exec(h.ns, ['ip', 'addr', 'add', `${h.ip}/24`, 'dev', h.dev]);
      this.exec(h.ns, ['ip', 'link', 'set', h.dev, 'up']);
      for (const o of this.hosts)
        if (o !== h) this.exec(h.ns, ['ip', 'neigh', 'replace', o.ip, 'lladdr', o.mac, 'dev', h.dev, 'nud', 'permanent']);
    }
    for (const dev of this.nsD ? ['b0', 'b1', 'b2'] : ['b0', 'b1']) this.exec(this.nsB, ['ip', 'link', 'set', dev, 'up']);
    this.#waitOperUp();
  }

  /**
   * #waitOperUp waits (at most 5 s) until every veth's operstate is "up": the kernel's link
   * watch sets IFF_RUNNING up to a second after both ends are up, and until then packet
   * sockets refuse the device ("not up and running") and the first frames may be lost.
   */
  #waitOperUp(): void {
    const devs: [string, string][] = [
      [this.nsA, 'a0'],
      [this.nsB, 'b0'],
      [this.nsB, 'b1'],
      [this.nsC, 'c0'],
    ];
    if (this.nsD) devs.push([this.nsB, 'b2'], [this.nsD, 'd0']);
    const deadline = Date.now() + 5_000;
    for (const [ns, dev] of devs) {
      for (;;) {
        const state = this.exec(ns, ['cat', `/sys/class/net/${dev}/operstate`]).stdout.trim();
        if (state === 'up') break;
        if (Date.now() > deadline) throw new Error(`topology: ${ns}: ${dev} is still ${state} after 5 s`);
        run(['sleep', '0.05']);
      }
    }
  }

  /**
   * exec runs `cmd` inside namespace `ns` (`ip netns exec`), waits at most `timeoutMs` (10 s),
   * and throws one line naming the command unless it exits 0 or `check` is false.
   */
  exec(ns: string, cmd: readonly string[], options: ExecOptions = {}): SpawnSyncReturns<string> {
    const r = run(['ip', 'netns', 'exec', ns, ...cmd], options.timeoutMs ?? 10_000, options.input);
    if ((options.check ?? true) && r.status !== 0) throw new Error(`topology: ${ns}: ${cmd.join(' ')}: ${oneLine(r)}`);
    return r;
  }

  /**
   * spawn starts `cmd` in the background inside `ns` in a process group of its own (stdio:
   * ignore, pipe, pipe unless `options.stdio` says otherwise); `cleanup()` kills the group.
   */
  spawn(ns: string, cmd: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawnChild('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], ...options, detached: true });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** linkStats reads DEV's counters in `ns` from /sys/class/net/DEV/statistics (sysfs as `ip netns exec` mounts it there). */
  linkStats(ns: string, dev: string): LinkStats {
    const files = STAT_FILES.map((f) => `/sys/class/net/${dev}/statistics/${f}`);
    const v = this.exec(ns, ['cat', ...files])
      .stdout.trim()
      .split(/\s+/)
      .map(Number);
    if (v.length !== STAT_FILES.length || v.some((n) => !Number.isFinite(n)))
      throw new Error(`topology: ${ns}: ${dev}: unreadable statistics`);
    return { rxPackets: v[0], rxBytes: v[1], txPackets: v[2], txBytes: v[3], rxDropped: v[4] };
  }

  /**
   * capture starts `tcpdump -w FILE` on DEV in `ns` (with `filter`, if given; `direction`: only
   * frames received (`in`, tcpdump -Q in) or sent) and resolves once
   * tcpdump says it is listening (at most 5 s). Its `stop()` ends tcpdump and resolves with its
   * own counts once the file is complete.
   */
  capture(ns: string, dev: string, file: string, filter?: string, direction?: 'in' | 'out'): Promise<Capture> {
    // -Q, not the `inbound` filter word: with that filter tcpdump missed the first frame here (4 of 5 captured, 5 received by filter)
    const args = [
      'tcpdump',
      '-i',
      dev,
      '-w',
      file,
      '-U',
      '-n',
      '--immediate-mode',
      // a 32 MiB socket buffer: on a loaded 2-core machine tcpdump trails the interface, and the default 2 MiB overflowed (frames the tool, not the interface, lost)
      '-B',
      '32768',
      '-Z',
      'root',
      ...(direction ? ['-Q', direction] : []),
      ...(filter ? [filter] : []),
    ];
    const child = this.spawn(ns, args);
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => (stderr += s));
    return new Promise<Capture>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        killGroup(child, 'SIGKILL');
        reject(new Error(`topology: ${ns}: tcpdump on ${dev}: ${why}`));
      };
      const timer = setTimeout(() => fail(`not listening after ${LISTEN_MS} ms: ${stderr.trim() || 'no output'}`), LISTEN_MS);
      const onExit = (code: number | null) => fail(`exited (${code}) before listening: ${stderr.trim()}`);
      child.once('exit', onExit);
      const onData = () => {
        if (!stderr.includes('listening on')) return;
        clearTimeout(timer);
        child.off('exit', onExit);
        child.stderr!.off('data', onData);
        resolve({
          file,
          stop: async () => {
            // tcpdump drops what it has not read yet when interrupted: first let it catch up (the file
            // stops growing for 300 ms; at most 5 s) — on a loaded machine it trails the interface
            await quiet(file, 300, 5000);
            const code = await stopChild(child, 'SIGINT');
            const captured = /(\d+) packets? captured/.exec(stderr);
            const dropped = /(\d+) packets? dropped by kernel/.exec(stderr);
            if (!captured) throw new Error(`topology: ${ns}: tcpdump on ${dev} ended (${code}) without its counts: ${stderr.trim()}`);
            return { captured: Number(captured[1]), droppedByKernel: Number(dropped?.[1] ?? 0) };
          },
        });
      };
      child.stderr!.on('data', onData);
    });
  }

  /**
   * bridge makes a Linux bridge `br0` over b0 and b1 in nsB (the kernel's own forwarder);
   * `unbridge` removes it. Without STP (ports forward at once) and without multicast snooping
   * (with it, br0 joins 224.0.0.106 and sends IGMP reports out of both ports).
   */
  bridge(): void {
    this.exec(this.nsB, ['ip', 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0']);
    for (const dev of ['b0', 'b1']) this.exec(this.nsB, ['ip', 'link', 'set', dev, 'master', 'br0']);
    this.exec(this.nsB, ['ip', 'link', 'set', 'br0', 'up']);
  }

  /** unbridge deletes nsB's `br0`, if there is one (b0 and b1 stay up). */
  unbridge(): void {
    this.exec(this.nsB, ['ip', 'link', 'del', 'br0'], { check: false });
  }

  /** cleanup kills what this topology started and deletes its namespaces; idempotent. */
  cleanup(): void {
    if (this.#closed) return;
    this.#closed = true;
    LIVE.delete(this);
    for (const c of this.#children) killGroup(c, 'SIGKILL');
    for (const ns of this.#made.reverse()) {
      // anything still inside (started by a test without `spawn`) holds the namespace's devices
      const pids = run(['ip', 'netns', 'pids', ns]).stdout?.split(/\s+/).filter(Boolean).map(Number) ?? [];
      for (const pid of pids)
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      run(['ip', 'netns', 'del', ns]);
    }
  }
}

/** TopologyOptions: `withD` adds nsD and the b2 - d0 pair (a second bridged port, for devmap redirects). */
export interface TopologyOptions {
  readonly withD?: boolean;
}

/** ExecOptions: for `Topology.exec`. */
export interface ExecOptions {
  readonly timeoutMs?: number;
  readonly input?: string;
  /** throw unless the command exits 0 (default true) */
  readonly check?: boolean;
}

/** Host: an end host of the topology. */
export interface Host {
  readonly ns: string;
  readonly dev: string;
  readonly ip: string;
  readonly mac: string;
}

/** LinkStats: a device's counters (rx_packets, rx_bytes, tx_packets, tx_bytes, rx_dropped). */
export interface LinkStats {
  readonly rxPackets: number;
  readonly rxBytes: number;
  readonly txPackets: number;
  readonly txBytes: number;
  readonly rxDropped: number;
}

/** Capture: a running tcpdump; `stop()` ends it and gives its own counts. */
export interface Capture {
  readonly file: string;
  stop(): Promise<{ captured: number; droppedByKernel: number }>;
}

/** HOST_A, HOST_C, HOST_D: the end hosts' addresses. */
export const HOST_A = { ip: '10.77.0.1', mac: '02:00:00:00:00:0a' } as const;
export const HOST_C = { ip: '10.77.0.2', mac: '02:00:00:00:00:0c' } as const;
export const HOST_D = { ip: '10.77.0.3', mac: '02:00:00:00:00:0d' } as const;

/**
 * topologyForSuite registers a suite's hooks: build a topology before (or skip, saying why
 * under `label`, when `Topology.available(tools)` says it cannot) and clean it up after.
 * Call the result inside a test.
 */
export function topologyForSuite(
  label: string,
  tag: string,
  options: TopologyOptions & { tools?: readonly string[] } = {},
): () => Topology {
  let t: Topology | undefined;
  before(function () {
    const why = Topology.available(options.tools);
    if (why) {
      console.log(`  ${label}: SKIPPED: ${why}`);
      this.skip();
    }
    t = Topology.create(tag, options);
  });
  after(() => t?.cleanup());
  return () => t!;
}

const STAT_FILES = ['rx_packets', 'rx_bytes', 'tx_packets', 'tx_bytes', 'rx_dropped'] as const;
const LISTEN_MS = 5_000;
const STOP_MS = 5_000;

/** LIVE: topologies not yet cleaned up, for the exit handler. */
const LIVE = new Set<Topology>();
process.on('exit', () => {
  for (const t of [...LIVE]) t.cleanup();
});

function run(cmd: readonly string[], timeoutMs = 10_000, input?: string): SpawnSyncReturns<string> {
  return spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', timeout: timeoutMs, input, killSignal: 'SIGKILL' });
}

function must(cmd: readonly string[], what: string): void {
  const r = run(cmd);
  if (r.status !== 0) throw new Error(`topology: ${what}: ${oneLine(r)}`);
}

function oneLine(r: SpawnSyncReturns<string>): string {
  if (r.error) return r.error.message;
  if (r.signal) return `killed by ${r.signal} (timeout?)`;
  return (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').join(' | ');
}

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).status === 0;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone
  }
}

/** stopChild sends `signal` to the child's group and waits for its exit (at most STOP_MS, then SIGKILL). */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), STOP_MS);
    // 'close', not 'exit': only then has all the child's output arrived (tcpdump's counts come last)
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    killGroup(child, signal);
  });
}

/** quiet resolves once `file` has not grown for `stillMs` (polled every 50 ms), or after `maxMs` in all. */
async function quiet(file: string, stillMs: number, maxMs: number): Promise<void> {
  const size = () => {
    try {
      return statSync(file).size;
    } catch {
      return -1;
    }
  };
  let last = size();
  let still = 0;
  for (let waited = 0; waited < maxMs && still < stillMs; waited += 50) {
    await new Promise((r) => setTimeout(r, 50));
    const now = size();
    still = now === last ? still + 50 : 0;
    last = now;
  }
}
