import { fileError } from '../uapi/fileError.js';
import { FileBytes } from './fileBytes.js';
import { PCAP_MAGIC_NS, PCAP_MAGIC_US, PcapReader } from './pcapReader.js';
import { Block, PcapngReader } from './pcapngReader.js';
import { CaptureError, type CaptureReader } from './record.js';

/**
 * openCapture opens a pcap or pcapng file, telling them apart by their first four bytes. A
 * file that cannot be opened (missing, a directory, unreadable) is a FileError naming it.
 */
export function openCapture(path: string, options: { readOptions?: boolean } = {}): CaptureReader {
  let bytes: FileBytes;
  try {
    bytes = new FileBytes(path);
  } catch (e) {
    throw fileError('capture', path, e, 'a pcap or pcapng file');
  }
  try {
    if (!bytes.need(4)) throw new CaptureError(path, 0, `${bytes.buffered} bytes: too short for a capture file`);
    const le = bytes.buf.readUInt32LE(0);
    const be = bytes.buf.readUInt32BE(0);
    if (le === Block.SHB) return new PcapngReader(path, { ...options, bytes });
    if ([PCAP_MAGIC_US, PCAP_MAGIC_NS].includes(le) || [PCAP_MAGIC_US, PCAP_MAGIC_NS].includes(be)) return new PcapReader(path, bytes);
    throw new CaptureError(path, 0, `magic 0x${be.toString(16).padStart(8, '0')} is neither pcap's nor pcapng's`);
  } catch (e) {
    bytes.close();
    throw e;
  }
}
