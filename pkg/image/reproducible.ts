// The rules that make the same inputs give the same bytes: one date for
// everything written (SOURCE_DATE_EPOCH, as reproducible-builds.org defines
// it), and identifiers (GUIDs, volume serials) derived from the contents
// instead of drawn at random.
import { createHash } from 'node:crypto';

/**
 * Seconds since 1970 for every date in an image: `explicit`, else
 * $SOURCE_DATE_EPOCH, else 1 (xorriso reads 0 as "not given" and uses the
 * clock, so 1 is the floor).
 */
export function buildEpoch(explicit?: number): number {
  const env = process.env.SOURCE_DATE_EPOCH;
  const epoch = explicit ?? (env && /^\d+$/.test(env) ? Number(env) : 1);
  return Math.max(1, Math.floor(epoch));
}

/** The namespace of keel's name-based UUIDs: any fixed 16 bytes do; these spell "keel-images". */
const KEEL_NAMESPACE = Buffer.from('6b65656c2d696d61676573000000000a', 'hex');

/**
 * A name-based UUID (RFC 9562 version 5: SHA-1 of a namespace and a name),
 * so a disk's GUIDs depend only on what the disk holds and what they name.
 */
export function derivedUuid(name: string): string {
  const h = createHash('sha1').update(KEEL_NAMESPACE).update(name).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** 32 bits from a name, for FAT volume serials and MBR disk signatures. */
export function derivedId32(name: string): number {
  return createHash('sha256').update(name).digest().readUInt32BE(0);
}

/** A short digest of files' contents and any strings, the seed the names above are made from. */
export function contentSeed(parts: ReadonlyArray<Buffer | string>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(createHash('sha256').update(p).digest());
  return h.digest('hex').slice(0, 32);
}

/** A GUID as Microsoft formats store it: the first three fields little-endian, the rest as written. */
export function guidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`not a GUID: ${uuid}`);
  const b = Buffer.from(hex, 'hex');
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
}
