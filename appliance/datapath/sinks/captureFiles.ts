import { ProgType } from '../../../uapi/progType.js';
import type { Verdict } from '../../../hooks/verdict.js';
import { type PacketOut, PcapWriter } from '../../../pcaps/pcapWriter.js';
import { type PacketVerdict, PcapngWriter, VerdictType } from '../../../pcaps/pcapngWriter.js';
import type { PacketExtra } from '../protocol.js';
import { STDIO } from '../../../pcaps/streamIo.js';
import { UserError } from '../../../uapi/userError.js';

/** OutputFiles: where replayed packets go (--out all of them, --out-pass, --out-drop). */
export interface OutputFiles {
  /** Whether any file is open (else the caller need not build packets to write). */
  readonly writes: boolean;
  /** packet writes a packet that ran, cut to the bytes its verdict `v` leaves (a socket filter's trim). */
  packet(p: PacketOut, cpu: number, v: Pick<Verdict, 'retval' | 'forward'>, extra: PacketExtra | undefined, faulted: boolean): void;
  notRun(p: PacketOut, why: string): void;
  close(): void;
}

type Writer = PcapWriter | PcapngWriter;
const open = (path: string): Writer =>
  /\.pcapng$/i.test(path) ? new PcapngWriter(path, { application: 'bpfbox replay' }) : new PcapWriter(path, { nanosecond: true });

/**
 * openOutputs opens the output captures; a name ending in .pcapng gets pcapng (with each
 * packet's verdict in epb_verdict: type 2 XDP, type 1 tc; a comment for the rest), any other
 * name classic pcap with nanosecond timestamps. Packets are written as the program left
 * them; a socket filter's are cut to the length it kept. `-` is standard output (classic
 * pcap, as tcpdump -w -), for one of the three at most.
 */
export function openOutputs(o: { out?: string; outPass?: string; outDrop?: string }, progType: number): OutputFiles {
  const toStdout = [o.out, o.outPass, o.outDrop].filter((p) => p === STDIO).length;
  if (toStdout > 1) throw new UserError('--out, --out-pass, --out-drop: only one of them can be - (standard output)');
  const all = o.out ? open(o.out) : undefined;
  const pass = o.outPass ? open(o.outPass) : undefined;
  const drop = o.outDrop ? open(o.outDrop) : undefined;
  const vtype =
    progType === ProgType.BPF_PROG_TYPE_XDP
      ? VerdictType.LINUX_EBPF_XDP
      : progType === ProgType.BPF_PROG_TYPE_SOCKET_FILTER
        ? undefined
        : VerdictType.LINUX_EBPF_TC;
  const write = (w: Writer | undefined, p: PacketOut, v?: PacketVerdict) => {
    if (w instanceof PcapngWriter) w.write(p, v);
    else w?.write(p);
  };
  return {
    writes: Boolean(all || pass || drop),
    packet(p, cpu, v, extra, faulted) {
      const notes: string[] = [];
      if (vtype === undefined) notes.push(v.forward ? `socket filter: keep ${p.data.length} bytes` : 'socket filter: drop');
      if (extra?.redirect) notes.push(`redirect to ${extra.redirect}`);
      if (extra?.clones) notes.push(`${extra.clones} clone(s) sent by bpf_clone_redirect`);
      if (faulted) notes.push(`program fault: ${extra?.fault}`);
      const pv: PacketVerdict = {
        type: vtype,
        value: vtype === undefined ? undefined : v.retval,
        comment: notes.length ? notes.join('; ') : undefined,
        queue: cpu,
      };
      write(all, p, pv);
      write(v.forward ? pass : drop, p, pv);
    },
    notRun(p, why) {
      const pv = { comment: `not run: ${why}` };
      write(all, p, pv);
      write(drop, p, pv);
    },
    close() {
      for (const w of [all, pass, drop]) w?.close();
    },
  };
}
