import { BpfError } from '../vm/errors.js';

/** ElfErrorOptions: the section (the error's `field`) and byte offset at fault, and what the error wraps. */
export interface ElfErrorOptions {
  readonly section?: string;
  readonly offset?: number;
  readonly cause?: unknown;
}

/** ElfError: an object file that cannot be read, naming the section (its `field`) and offset at fault. */
export class ElfError extends BpfError {
  constructor(detail: string, where: ElfErrorOptions = {}) {
    const at = [where.section && `section ${where.section}`, where.offset !== undefined && `offset 0x${where.offset.toString(16)}`]
      .filter(Boolean)
      .join(', ');
    const { section, ...rest } = where;
    super(`elf: ${at ? `${at}: ` : ''}${detail}`, { ...rest, field: section });
  }
}
