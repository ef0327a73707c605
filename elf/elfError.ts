import { BpfError } from '../vm/errors.js';

/** ElfError: an object file that cannot be read, naming the section and offset at fault. */
export class ElfError extends BpfError {
  readonly section?: string;
  readonly offset?: number;
  constructor(detail: string, where: { section?: string; offset?: number } = {}) {
    const at = [where.section && `section ${where.section}`, where.offset !== undefined && `offset 0x${where.offset.toString(16)}`].filter(Boolean).join(', ');
    super(`elf: ${at ? `${at}: ` : ''}${detail}`);
    this.section = where.section;
    this.offset = where.offset;
  }
}
