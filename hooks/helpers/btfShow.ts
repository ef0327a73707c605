import { Kind } from '../../uapi/btf.js';

/** ShowType: what btfShow reads of one BTF type (elf/btf.ts's BtfType has this shape; hooks may not import elf/). */
export interface ShowType {
  readonly kind: number;
  readonly name: string;
  readonly size: number;
  readonly type: number;
  /** STRUCT/UNION members (bit offsets), ENUM/ENUM64 values (in `offset`). */
  readonly members: readonly { readonly name: string; readonly type: number; readonly offset: number; readonly bitSize?: number }[];
  readonly elem?: number;
  readonly nelems?: number;
  readonly intBits?: number;
  readonly signed?: boolean;
  readonly kflag?: boolean;
  readonly intOffset?: number;
}

/** ShowBtf: a BTF type table by id (0 is void). */
export interface ShowBtf {
  readonly types: readonly ShowType[];
}

/** BTF_F_*: bpf_snprintf_btf's flags (include/uapi/linux/bpf.h), the same bits as the kernel's BTF_SHOW_*. */
export const BTF_F = { COMPACT: 1, NONAME: 2, PTR_RAW: 4, ZERO: 8 } as const;
/** BTF_F_ALL: the flags bpf_snprintf_btf accepts (others: -EINVAL). */
export const BTF_F_ALL = BTF_F.COMPACT | BTF_F.NONAME | BTF_F.PTR_RAW | BTF_F.ZERO;

/** BTF_SHOW_MAX_ITER: how many typedefs, pointers and arrays btf_show_name follows before it gives up on a name. */
const BTF_SHOW_MAX_ITER = 10;
/** IS_ERR_VALUE: the top 4095 addresses are -errno, never hashed. */
const MAX_ERRNO_PTR = 2n ** 64n - 4095n;
const MODIFIERS: readonly number[] = [Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG];

/** ShowOptions: the flags, and how a pointer is hashed for `%p` (the kernel's siphash with a boot-time key). */
export interface ShowOptions {
  readonly flags: number;
  readonly hashPointer: (p: bigint) => bigint;
}

/**
 * btfShow renders the value at `addr` as BTF type `typeId`, as the kernel's btf_type_show does
 * for bpf_snprintf_btf (kernel/bpf/btf.c): `(struct foo){\n .a = (int)1,\n ...}\n`, or with
 * BTF_F_COMPACT on one line, BTF_F_NONAME without member names and types, BTF_F_ZERO with zero
 * members (omitted by default, an aggregate with nothing non-zero in it too: the kernel's
 * depth_check pass), BTF_F_PTR_RAW with raw pointers (`%px`; hashed `%p` otherwise). Bitfields
 * print in hex, char arrays as characters up to their NUL, enums by name. The port keeps the
 * kernel's state machine (state.type, depth_check, depth_to_show) so its quirks carry over.
 */
export function btfShow(btf: ShowBtf, typeId: number, mem: Uint8Array, addr: number, options: ShowOptions): string {
  return new Show(btf, mem, options).type(typeId, addr);
}

interface Member {
  readonly name: string;
  readonly type: number;
}

class Show {
  out = '';
  depth = 0;
  depthCheck = 0;
  depthToShow = 0;
  stateType: ShowType | undefined;
  stateTypeId = 0;
  member: Member | undefined;
  arrayMember = false;
  arrayChar = false;
  arrayTerminated = false;
  readonly #btf: ShowBtf;
  readonly #mem: Uint8Array;
  readonly #o: ShowOptions;

  constructor(btf: ShowBtf, mem: Uint8Array, options: ShowOptions) {
    this.#btf = btf;
    this.#mem = mem;
    this.#o = options;
  }

  type(typeId: number, addr: number): string {
    this.#show(this.#t(typeId), typeId, addr, 0);
    return this.out;
  }

  #t(id: number): ShowType {
    return this.#btf.types[id] ?? { kind: Kind.UNKN, name: '', size: 0, type: 0, members: [] };
  }

  #flag(f: number): boolean {
    return (this.#o.flags & f) !== 0;
  }

  #emit(s: string): void {
    if (!this.depthCheck) this.out += s;
  }

  /** btf_type_ops(t)->show */
  #show(t: ShowType, id: number, addr: number, bitsOffset: number): void {
    switch (t.kind) {
      case Kind.INT:
        return this.#int(t, id, addr, bitsOffset);
      case Kind.PTR:
        return this.#ptr(t, id, addr);
      case Kind.ARRAY:
        return this.#aggr(() => this.#array(t, id, addr, bitsOffset));
      case Kind.STRUCT:
      case Kind.UNION:
        return this.#aggr(() => this.#struct(t, id, addr));
      case Kind.ENUM:
      case Kind.ENUM64:
        return this.#enum(t, id, addr);
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG: {
        // btf_modifier_show: the resolved type shown under the typedef's id (vmlinux has no resolved_ids)
        let r = t;
        for (let n = 0; n < 64 && MODIFIERS.includes(r.kind); n++) r = this.#t(r.type);
        if (r.kind === Kind.UNKN) return this.#emit(`<unsupported kind:${r.kind}>`);
        return this.#show(r, id, addr, bitsOffset);
      }
      case Kind.VAR: {
        let r = this.#t(t.type);
        let rid = t.type;
        for (let n = 0; n < 64 && MODIFIERS.includes(r.kind); n++) ((rid = r.type), (r = this.#t(r.type)));
        return this.#show(r, rid, addr, bitsOffset);
      }
      default:
        return this.#emit(`<unsupported kind:${t.kind}>`);
    }
  }

  /** btf_struct_show / btf_array_show: at depth > 0 without BTF_F_ZERO, a silent pass first finds whether anything non-zero is inside. */
  #aggr(body: () => void): void {
    const m = this.member;
    if (this.depth > 0 && !this.#flag(BTF_F.ZERO)) {
      if (!this.depthCheck) {
        this.depthCheck = this.depth + 1;
        this.depthToShow = 0;
      }
      body();
      this.member = m;
      if (this.depthCheck !== this.depth + 1) return;
      this.depthCheck = 0;
      if (this.depthToShow <= this.depth) return;
    }
    body();
  }

  #startType(t: ShowType | undefined, id: number): void {
    this.stateType = t;
    this.stateTypeId = id;
  }

  #endType(): void {
    this.stateType = undefined;
    this.stateTypeId = 0;
  }

  #indent(): string {
    return this.#flag(BTF_F.COMPACT) ? '' : ' '.repeat(Math.min(this.depth, 32));
  }

  #newline(): string {
    return this.#flag(BTF_F.COMPACT) ? '' : '\n';
  }

  #delim(): string {
    if (this.depth === 0) return '';
    if (this.#flag(BTF_F.COMPACT) && this.stateType?.kind === Kind.UNION) return '|';
    return ',';
  }

  /** btf_show_type_value: zero values are left out below the top unless BTF_F_ZERO. */
  #value(text: string, nonZero: boolean): void {
    if (nonZero || this.#flag(BTF_F.ZERO) || this.depth === 0) {
      this.#emit(`${this.#indent()}${this.#name()}${text}${this.#delim()}${this.#newline()}`);
      if (this.depth > this.depthToShow) this.depthToShow = this.depth;
    }
  }

  /** btf_show_name: `[.member = ](type name)` with `*` and `[]` suffixes, `{` or `[` opening an aggregate. */
  #name(): string {
    if (this.arrayMember) return '';
    const m = this.member;
    let id = this.stateTypeId;
    let member = '';
    if (m) ((member = m.name), (id = m.type));
    let t = this.#btf.types[id];
    if (!t) return '';
    let name: string | undefined;
    let parens = '';
    let ptrs = 0;
    let arrays = 0;
    let typedef = false;
    let isPtr = false;
    let isArray = false;
    let i = 0;
    for (; i < BTF_SHOW_MAX_ITER; i++) {
      if (t.kind === Kind.TYPEDEF) ((name ??= t.name), (typedef = true), (id = t.type));
      else if (t.kind === Kind.ARRAY) ((isArray = true), (parens = '['), (arrays = Math.min(arrays + 1, 10)), (id = t.elem ?? 0));
      else if (t.kind === Kind.PTR) ((isPtr = true), (ptrs = Math.min(ptrs + 1, 10)), (id = t.type));
      else id = 0;
      if (!id) break;
      // btf_type_skip_qualifiers: const, volatile, restrict and type tags, not typedefs
      t = this.#t(id);
      for (let n = 0; n < 64 && MODIFIERS.includes(t.kind) && t.kind !== Kind.TYPEDEF; n++) t = this.#t(t.type);
    }
    if (i === BTF_SHOW_MAX_ITER) return '';
    name ??= t.name;
    let prefix = '';
    if (t.kind === Kind.STRUCT || t.kind === Kind.UNION) {
      prefix = t.kind === Kind.STRUCT ? 'struct' : 'union';
      if (!isArray) parens = '{';
    } else if (t.kind === Kind.ENUM || t.kind === Kind.ENUM64) prefix = 'enum';
    if (isPtr) parens = '';
    if (typedef) prefix = '';
    if (this.#flag(BTF_F.NONAME)) return parens;
    const ptr = '*'.repeat(ptrs);
    const s =
      (member ? `.${member} = ` : '') +
      `(${prefix}${prefix && name ? ' ' : ''}${name}${ptr ? ' ' : ''}${ptr}${'[]'.repeat(arrays)})${parens}`;
    // state.name is char[BTF_SHOW_NAME_SIZE]: snprintf cuts it to 79 bytes
    return s.length > 79 ? s.slice(0, 79) : s;
  }

  #startAggr(t: ShowType, id: number): void {
    this.#startType(t, id);
    this.#emit(`${this.#indent()}${this.#name()}${this.#newline()}`);
    this.depth++;
  }

  #endAggr(suffix: string): void {
    this.depth--;
    this.#emit(`${this.#indent()}${suffix}${this.#delim()}${this.#newline()}`);
    this.#endType();
  }

  #struct(t: ShowType, id: number, addr: number): void {
    this.#startAggr(t, id);
    for (const m of t.members) {
      this.member = m;
      const mt = this.#t(m.type);
      const byte = addr + (m.offset >> 3);
      if (m.bitSize) {
        this.#startType(mt, m.type);
        this.#bitfield(byte, m.offset & 7, m.bitSize);
        this.#endType();
      } else this.#show(mt, m.type, byte, m.offset & 7);
      this.member = undefined;
    }
    this.#endAggr('}');
  }

  #array(t: ShowType, id: number, addr: number, bitsOffset: number): void {
    const elemId = t.elem ?? 0;
    let elem: ShowType | undefined = this.#t(elemId);
    for (let n = 0; n < 64 && MODIFIERS.includes(elem.kind); n++) elem = this.#t(elem.type);
    if (elem.kind === Kind.UNKN) elem = undefined;
    const sized = elem && [Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FLOAT, Kind.DATASEC].includes(elem.kind as 1);
    const elemSize = sized ? elem!.size : 0;
    // "BTF_INT_CHAR encoding never seems to be set for char arrays": 1-byte ints show as characters
    this.arrayChar = elem?.kind === Kind.INT && elemSize === 1;
    this.arrayTerminated = false;
    this.#startAggr(t, id);
    if (elem)
      for (let i = 0; i < (t.nelems ?? 0); i++) {
        this.arrayMember = true;
        this.member = undefined;
        this.#show(elem, elemId, addr + i * elemSize, bitsOffset);
        this.arrayMember = false;
        this.member = undefined;
        if (this.arrayTerminated) break;
      }
    this.arrayChar = false;
    this.arrayTerminated = false;
    this.#endAggr(']');
  }

  #le(addr: number, n: number): bigint {
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.#mem[addr + i] ?? 0);
    return v;
  }

  #int(t: ShowType, id: number, addr: number, bitsOffset: number): void {
    this.#startType(t, id);
    const bits = t.intBits ?? 8 * t.size;
    const intOffset = t.intOffset ?? 0;
    if (bitsOffset || intOffset || bits % 8) {
      const total = bitsOffset + intOffset;
      this.#bitfield(addr + (total >> 3), total & 7, bits);
    } else if (bits === 128) this.#int128(this.#le(addr, 16));
    else if (bits === 64 || bits === 32 || bits === 16) {
      const v = this.#le(addr, bits / 8);
      this.#value(String(t.signed ? BigInt.asIntN(bits, v) : v), v !== 0n);
    } else if (bits === 8) {
      const b = this.#mem[addr] ?? 0;
      if (this.arrayChar) {
        if (this.arrayTerminated) return this.#endType();
        if (b === 0) {
          this.arrayTerminated = true;
          return this.#endType();
        }
        // the kernel's isprint (lib/ctype.c): ASCII 0x20-0x7e and Latin-1 0xa0-0xff
        if ((b >= 0x20 && b < 0x7f) || b >= 0xa0) {
          this.#value(`'${String.fromCharCode(b)}'`, true);
          return this.#endType();
        }
      }
      this.#value(String(t.signed ? (b << 24) >> 24 : b), b !== 0);
    } else this.#bitfield(addr, 0, bits);
    this.#endType();
  }

  /** btf_bitfield_show: `bits` bits from bit `bitsOffset` of `addr` (little-endian), shown in hex. */
  #bitfield(addr: number, bitsOffset: number, bits: number): void {
    const bytes = Math.ceil((bits + bitsOffset) / 8);
    const v = (this.#le(addr, bytes) >> BigInt(bitsOffset)) & ((1n << BigInt(bits)) - 1n);
    this.#int128(v);
  }

  /** btf_int128_print: `0x%llx`, or the upper half then the lower as 16 digits. */
  #int128(v: bigint): void {
    const upper = v >> 64n;
    const lower = v & 0xffff_ffff_ffff_ffffn;
    if (upper === 0n) this.#value(`0x${lower.toString(16)}`, lower !== 0n);
    else this.#value(`0x${upper.toString(16)}${lower.toString(16).padStart(16, '0')}`, true);
  }

  #ptr(t: ShowType, id: number, addr: number): void {
    this.#startType(t, id);
    const p = this.#le(addr, 8);
    // %px: 16 hex digits; %p: the hashed id (64-bit: its low 32 bits, zero-padded to 16 digits),
    // except NULL and error pointers, which ptr_to_id prints as they are
    const raw = this.#flag(BTF_F.PTR_RAW) || p === 0n || p >= MAX_ERRNO_PTR;
    const shown = raw ? p : this.#o.hashPointer(p) & 0xffff_ffffn;
    this.#value(`0x${shown.toString(16).padStart(16, '0')}`, p !== 0n);
    this.#endType();
  }

  #enum(t: ShowType, id: number, addr: number): void {
    this.#startType(t, id);
    if (t.kind === Kind.ENUM) {
      // btf_enum_show reads an int whatever the enum's size
      const v = Number(BigInt.asIntN(32, this.#le(addr, 4)));
      const hit = t.members.find((e) => (e.offset | 0) === v);
      if (hit)
        this.#value(hit.name, true); // the value tested is the name's pointer: never NULL
      else this.#value(String(t.kflag ? v : v >>> 0), v !== 0);
    } else {
      const v = this.#le(addr, 8);
      const hit = t.members.find((e) => BigInt.asUintN(64, BigInt(e.offset)) === v);
      if (hit) this.#value(hit.name, true);
      else this.#value(String(t.kflag ? BigInt.asIntN(64, v) : v), v !== 0n);
    }
    this.#endType();
  }
}
