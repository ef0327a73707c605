import type { DecoderConfig, LabelConfig } from '../../config/config.js';
import { UserError } from '../../../uapi/userError.js';

/**
 * Label decoders in the manner of cloudflare/ebpf_exporter: a label is `size` bytes of the
 * map key, turned into a string by a chain of decoders; a decoder may drop the series.
 *   uint        the bytes as a little-endian unsigned integer (1 to 8 bytes)
 *   inet_ip     4 bytes as dotted IPv4, 16 as IPv6
 *   string      the bytes up to the first NUL, as UTF-8
 *   hex         the bytes in hex
 *   static_map  the value so far looked up in `static_map`; unknown values drop the series
 *               unless `allow_unknown` (then they stay as they are)
 *   regexp      keeps the series only if the value so far matches one of `regexps`
 * The first decoder reads bytes (static_map and regexp read them as `uint` would); the rest
 * read the string before them. No decoders means `uint`.
 */
export type LabelDecoder = (bytes: Uint8Array) => string | null;

/** DecoderError: a decoder the config gives that cannot work on this label (the message says why). */
export class DecoderError extends UserError {}

function uint(b: Uint8Array): string {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v.toString();
}

function inetIp(b: Uint8Array): string {
  if (b.length === 4) return [...b].join('.');
  const words = Array.from({ length: 8 }, (_, i) => ((b[2 * i] << 8) | b[2 * i + 1]).toString(16));
  // the longest run of zero words becomes ::
  let best = [-1, 0];
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > best[1] && j - i > 1) best = [i, j - i];
    i = j;
  }
  if (best[0] < 0) return words.join(':');
  return `${words.slice(0, best[0]).join(':')}::${words.slice(best[0] + best[1]).join(':')}`;
}

/** labelDecoder builds the decoder chain of a label, checking it fits the label's size. */
export function labelDecoder(l: LabelConfig): LabelDecoder {
  const chain = l.decoders?.length ? l.decoders : [{ name: 'uint' } as DecoderConfig];
  const steps = chain.map((d, i): ((bytes: Uint8Array, s: string | null) => string | null) => {
    const first = i === 0;
    switch (d.name) {
      case 'uint':
        if (!first) throw new DecoderError('uint decodes key bytes, so it must come first');
        if (l.size > 8) throw new DecoderError(`uint takes at most 8 bytes, the label has ${l.size}`);
        return (b) => uint(b);
      case 'inet_ip':
        if (!first) throw new DecoderError('inet_ip decodes key bytes, so it must come first');
        if (l.size !== 4 && l.size !== 16) throw new DecoderError(`inet_ip takes 4 or 16 bytes, the label has ${l.size}`);
        return (b) => inetIp(b);
      case 'string':
        if (!first) throw new DecoderError('string decodes key bytes, so it must come first');
        return (b) => {
          const end = b.indexOf(0);
          return Buffer.from(b.subarray(0, end < 0 ? b.length : end)).toString('utf8');
        };
      case 'hex':
        if (!first) throw new DecoderError('hex decodes key bytes, so it must come first');
        return (b) => Buffer.from(b).toString('hex');
      case 'static_map': {
        const m = d.static_map ?? {};
        return (b, s) => {
          const v = s ?? uint(b);
          return v in m ? m[v] : d.allow_unknown ? v : null;
        };
      }
      case 'regexp': {
        const res = (d.regexps ?? []).map((r) => new RegExp(r));
        if (!res.length) throw new DecoderError('regexp needs regexps');
        return (b, s) => {
          const v = s ?? uint(b);
          return res.some((r) => r.test(v)) ? v : null;
        };
      }
    }
  });
  return (bytes) => {
    let s: string | null = null;
    for (let i = 0; i < steps.length; i++) {
      s = steps[i](bytes, i === 0 ? null : s);
      if (s === null) return null;
    }
    return s;
  };
}
