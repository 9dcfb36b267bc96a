// Zip archives as torch.save writes them, read entry by entry through a file descriptor (a 2.5 GB SAM vit_h
// checkpoint is never held in one Buffer), plus an append-only writer and an atomic file write.
//
// Reading: the end-of-central-directory record (EOCD, `PK\x05\x06`) is searched in the last 64 KiB + 22 bytes;
// when a ZIP64 locator (`PK\x06\x07`) precedes it, the ZIP64 EOCD record gives the real entry count and
// central-directory offset. Central-directory entries (`PK\x01\x02`) give name, method, CRC-32, sizes and the
// local-header offset (ZIP64 extra field 0x0001 when a field is 0xFFFFFFFF). Data starts after the local header
// (`PK\x03\x04`, 30 bytes + name + extra); sizes always come from the central directory because PyTorch sets the
// data-descriptor flag and leaves the local sizes zero. Methods: 0 (stored, what PyTorch writes) and 8 (deflate).
//
// Writing mirrors PyTorch's PyTorchStreamWriter (miniz): every local header carries an extra field with id "FB"
// whose payload is 'Z' padding, so that each entry's data starts on a 64-byte boundary; records are stored
// (method 0); the archive ends with a ZIP64 EOCD record, its locator and the classic EOCD (fields saturated to
// 0xFFFF / 0xFFFFFFFF when they overflow). Entries of 4 GiB or more, or beyond a 4 GiB offset, get ZIP64 extras.
import {
  closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';
import { constants as bufferConstants } from 'node:buffer';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

export interface ZipEntry {
  /** Full name inside the archive, e.g. `plain/data/0`. */
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  flags: number;
}

/** Reads exactly `length` bytes at `position`, failing if the file ends first. */
export function readAt(fd: number, position: number, length: number, what = 'data'): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) {
      throw new Error(`truncated archive: the file ends at byte ${position + done} while reading ${what} (${length} bytes at ${position})`);
    }
    done += n;
  }
  return buf;
}

const u64 = (buf: Buffer, at: number, what: string): number => {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`zip ${what} ${v} is beyond 2^53 bytes`);
  return Number(v);
};

/** A read-only view of one zip archive on disk. The caller owns `fd` unless the reader opened it. */
export class ZipReader {
  readonly entries: ZipEntry[];
  readonly #byName: Map<string, ZipEntry>;
  readonly #dataOffsets = new Map<ZipEntry, number>();

  private constructor(readonly fd: number, readonly fileSize: number, readonly label: string, entries: ZipEntry[]) {
    this.entries = entries;
    this.#byName = new Map(entries.map((e) => [e.name, e]));
  }

  /** Parses the central directory of the archive open on `fd` (`label` names the file in error messages). */
  static fromFd(fd: number, label: string): ZipReader {
    const fileSize = fstatSync(fd).size;
    const tailLength = Math.min(fileSize, 22 + 0xffff);
    const tail = readAt(fd, fileSize - tailLength, tailLength, 'the archive tail');
    let eocd = -1;
    for (let i = tailLength - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD && i + 22 + tail.readUInt16LE(i + 20) <= tailLength) { eocd = i; break; }
    }
    if (eocd < 0) {
      throw new Error(`truncated archive: the zip end-of-central-directory record is missing (the file ends in the middle of an entry or is not a complete zip): ${label}`);
    }
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    const eocdPos = fileSize - tailLength + eocd;
    if (eocdPos >= 20) {
      const loc = readAt(fd, eocdPos - 20, 20, 'the ZIP64 locator');
      if (loc.readUInt32LE(0) === SIG_LOCATOR64) {
        const recPos = u64(loc, 8, 'ZIP64 record offset');
        if (recPos + 56 > eocdPos) throw new Error(`corrupt zip archive: the ZIP64 end-of-central-directory locator points past the end: ${label}`);
        const rec = readAt(fd, recPos, 56, 'the ZIP64 end-of-central-directory record');
        if (rec.readUInt32LE(0) !== SIG_EOCD64) throw new Error(`corrupt zip archive: no ZIP64 end-of-central-directory record at byte ${recPos}: ${label}`);
        count = u64(rec, 32, 'entry count');
        cdSize = u64(rec, 40, 'central directory size');
        cdOffset = u64(rec, 48, 'central directory offset');
      }
    }
    if (cdOffset + cdSize > eocdPos) {
      throw new Error(`truncated archive: the zip central directory (${cdSize} bytes at ${cdOffset}) lies beyond the end-of-central-directory record at ${eocdPos}: ${label}`);
    }
    const cd = readAt(fd, cdOffset, cdSize, 'the central directory');
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) {
        throw new Error(`corrupt zip archive: central-directory entry ${i} of ${count} is missing or damaged (byte ${cdOffset + p}): ${label}`);
      }
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const entry: ZipEntry = {
        name: cd.toString('utf8', p + 46, p + 46 + nameLen),
        flags: cd.readUInt16LE(p + 8),
        method: cd.readUInt16LE(p + 10),
        crc32: cd.readUInt32LE(p + 16),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
        localHeaderOffset: cd.readUInt32LE(p + 42),
      };
      readZip64Extra(cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen), entry);
      entries.push(entry);
      p += 46 + nameLen + extraLen + commentLen;
    }
    return new ZipReader(fd, fileSize, label, entries);
  }

  get(name: string): ZipEntry | undefined { return this.#byName.get(name); }

  /** Absolute file offset of an entry's (stored or compressed) data, from its local header. */
  dataOffset(entry: ZipEntry): number {
    let off = this.#dataOffsets.get(entry);
    if (off !== undefined) return off;
    const h = readAt(this.fd, entry.localHeaderOffset, 30, `the local header of ${entry.name}`);
    if (h.readUInt32LE(0) !== SIG_LOCAL) {
      throw new Error(`corrupt zip archive: no local file header for entry ${entry.name} at byte ${entry.localHeaderOffset}: ${this.label}`);
    }
    off = entry.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
    if (off + entry.compressedSize > this.fileSize) {
      throw new Error(`truncated archive: zip entry ${entry.name} (${entry.compressedSize} bytes at ${off}) extends past the end of the ${this.fileSize}-byte file: ${this.label}`);
    }
    this.#dataOffsets.set(entry, off);
    return off;
  }

  /** The entry's uncompressed bytes, CRC-checked unless verifyCrc is false. */
  read(entry: ZipEntry, opts: { verifyCrc?: boolean } = {}): Buffer {
    if (entry.flags & 1) throw new Error(`zip entry ${entry.name} is encrypted, which is not supported: ${this.label}`);
    if (entry.method !== 0 && entry.method !== 8) {
      throw new Error(`zip entry ${entry.name} uses compression method ${entry.method}; only stored (0) and deflate (8) are supported: ${this.label}`);
    }
    if (entry.compressedSize > bufferConstants.MAX_LENGTH || entry.size > bufferConstants.MAX_LENGTH) {
      throw new Error(`zip entry ${entry.name} holds ${entry.size} bytes, more than one Node Buffer can (${bufferConstants.MAX_LENGTH}): ${this.label}`);
    }
    const raw = readAt(this.fd, this.dataOffset(entry), entry.compressedSize, `zip entry ${entry.name}`);
    const data = entry.method === 8 ? inflateRawSync(raw) : raw;
    if (data.length !== entry.size) {
      throw new Error(`corrupt zip entry ${entry.name}: it holds ${data.length} bytes but the central directory says ${entry.size}: ${this.label}`);
    }
    if (opts.verifyCrc !== false) {
      const actual = crc32(data) >>> 0;
      if (actual !== entry.crc32) {
        throw new Error(`CRC-32 mismatch in zip entry ${entry.name} (stored ${hex32(entry.crc32)}, computed ${hex32(actual)}): the entry's data is corrupt: ${this.label}`);
      }
    }
    return data;
  }
}

const hex32 = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

/** Applies a ZIP64 extended-information extra field (id 0x0001) to the saturated fields of a central entry. */
function readZip64Extra(extra: Buffer, e: ZipEntry): void {
  for (let q = 0; q + 4 <= extra.length;) {
    const id = extra.readUInt16LE(q);
    const len = extra.readUInt16LE(q + 2);
    if (id === 0x0001) {
      let r = q + 4;
      const next = (what: string): number => { const v = u64(extra, r, what); r += 8; return v; };
      if (e.size === U32_MAX) e.size = next('entry size');
      if (e.compressedSize === U32_MAX) e.compressedSize = next('compressed size');
      if (e.localHeaderOffset === U32_MAX) e.localHeaderOffset = next('local header offset');
      return;
    }
    q += 4 + len;
  }
}

interface WrittenEntry { name: Buffer; crc: number; size: number; offset: number }

/** Writes a stored zip archive sequentially to an open fd, PyTorch-style (64-byte aligned data, ZIP64 end records). */
export class ZipWriter {
  #pos = 0;
  readonly #entries: WrittenEntry[] = [];

  /** forceZip64 writes ZIP64 extra fields for every entry (for tests of the >4 GiB paths on small files). */
  constructor(readonly fd: number, readonly opts: { align?: number; forceZip64?: boolean } = {}) {}

  get position(): number { return this.#pos; }

  #write(data: Uint8Array): void {
    for (let done = 0; done < data.length;) done += writeSync(this.fd, data, done, data.length - done);
    this.#pos += data.length;
  }

  /** Adds one stored entry whose data is the concatenation of `chunks`. */
  add(name: string, chunks: Uint8Array | readonly Uint8Array[]): void {
    const parts = chunks instanceof Uint8Array ? [chunks] : chunks;
    let size = 0;
    let crc = 0;
    for (const c of parts) { size += c.length; crc = crc32(c, crc); }
    const nameBytes = Buffer.from(name, 'utf8');
    const zip64 = this.opts.forceZip64 === true || size >= U32_MAX;
    const align = this.opts.align ?? 64;
    // The same arithmetic as caffe2's getPadding: data starts after header, name, zip64 extra and the 4-byte FB header.
    const start = this.#pos + 30 + nameBytes.length + (zip64 ? 20 : 0) + 4;
    const pad = (align - (start % align)) % align;
    const h = Buffer.alloc(30);
    h.writeUInt32LE(SIG_LOCAL, 0);
    h.writeUInt16LE(zip64 ? 45 : 20, 4);
    h.writeUInt16LE(0x0800, 6); // UTF-8 names, no data descriptor
    h.writeUInt16LE(0, 8); // stored
    h.writeUInt16LE(0, 10); // time 00:00
    h.writeUInt16LE(0x21, 12); // date 1980-01-01
    h.writeUInt32LE(crc >>> 0, 14);
    h.writeUInt32LE(zip64 ? U32_MAX : size, 18);
    h.writeUInt32LE(zip64 ? U32_MAX : size, 22);
    h.writeUInt16LE(nameBytes.length, 26);
    h.writeUInt16LE((zip64 ? 20 : 0) + 4 + pad, 28);
    const extra = Buffer.alloc((zip64 ? 20 : 0) + 4 + pad, 'Z');
    let q = 0;
    if (zip64) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(16, 2);
      extra.writeBigUInt64LE(BigInt(size), 4);
      extra.writeBigUInt64LE(BigInt(size), 12);
      q = 20;
    }
    extra.write('FB', q, 'latin1');
    extra.writeUInt16LE(pad, q + 2);
    const offset = this.#pos;
    this.#write(h);
    this.#write(nameBytes);
    this.#write(extra);
    for (const c of parts) this.#write(c);
    this.#entries.push({ name: nameBytes, crc: crc >>> 0, size, offset });
  }

  /** Writes the central directory and the end records. */
  finish(): void {
    const cdOffset = this.#pos;
    for (const e of this.#entries) {
      const fields: bigint[] = [];
      const force = this.opts.forceZip64 === true;
      if (force || e.size >= U32_MAX) fields.push(BigInt(e.size), BigInt(e.size));
      if (force || e.offset >= U32_MAX) fields.push(BigInt(e.offset));
      const extra = Buffer.alloc(fields.length ? 4 + 8 * fields.length : 0);
      if (fields.length) {
        extra.writeUInt16LE(0x0001, 0);
        extra.writeUInt16LE(8 * fields.length, 2);
        fields.forEach((v, i) => extra.writeBigUInt64LE(v, 4 + 8 * i));
      }
      const sizeField = force || e.size >= U32_MAX ? U32_MAX : e.size;
      const c = Buffer.alloc(46);
      c.writeUInt32LE(SIG_CENTRAL, 0);
      c.writeUInt16LE(45, 4);
      c.writeUInt16LE(fields.length ? 45 : 20, 6);
      c.writeUInt16LE(0x0800, 8);
      c.writeUInt16LE(0x21, 14);
      c.writeUInt32LE(e.crc, 16);
      c.writeUInt32LE(sizeField, 20);
      c.writeUInt32LE(sizeField, 24);
      c.writeUInt16LE(e.name.length, 28);
      c.writeUInt16LE(extra.length, 30);
      c.writeUInt32LE(force || e.offset >= U32_MAX ? U32_MAX : e.offset, 42);
      this.#write(c);
      this.#write(e.name);
      this.#write(extra);
    }
    const cdSize = this.#pos - cdOffset;
    const n = this.#entries.length;
    const rec64Pos = this.#pos;
    const rec = Buffer.alloc(56 + 20);
    rec.writeUInt32LE(SIG_EOCD64, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(n), 24);
    rec.writeBigUInt64LE(BigInt(n), 32);
    rec.writeBigUInt64LE(BigInt(cdSize), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    rec.writeUInt32LE(SIG_LOCATOR64, 56);
    rec.writeBigUInt64LE(BigInt(rec64Pos), 64);
    rec.writeUInt32LE(1, 72);
    this.#write(rec);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(SIG_EOCD, 0);
    end.writeUInt16LE(Math.min(n, U16_MAX), 8);
    end.writeUInt16LE(Math.min(n, U16_MAX), 10);
    end.writeUInt32LE(Math.min(cdSize, U32_MAX), 12);
    end.writeUInt32LE(Math.min(cdOffset, U32_MAX), 16);
    this.#write(end);
  }
}

/**
 * Writes a file atomically: `write(fd)` fills a temporary file in the same directory, which is fsynced and then
 * renamed over `path` (and the directory fsynced), so a crash leaves either the old file or the complete new one.
 */
export function writeFileAtomic(path: string, write: (fd: number) => void): void {
  const target = resolve(path);
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    write(fd);
    fsyncSync(fd);
    closeSync(fd);
  } catch (err) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    throw err;
  }
  try {
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  try {
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* directories cannot be fsynced on every platform; the rename itself is atomic */ }
}

/** Opens a file for reading with one-line errors for a missing file, a directory or no permission. */
export function openForReading(path: string, what = 'checkpoint'): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${what} not found: ${path} (no such file)`);
    if (code === 'EACCES' || code === 'EPERM') throw new Error(`cannot read ${what} ${path}: permission denied`);
    throw new Error(`cannot open ${what} ${path}: ${(err as Error).message}`);
  }
  const st = fstatSync(fd);
  if (st.isDirectory()) {
    closeSync(fd);
    throw new Error(`${what} path is a directory, not a file: ${path}`);
  }
  return { fd, size: st.size };
}
