// Console passwords: stored in the manifest as an scrypt hash, never in the clear.
//   scrypt$N$r$p$SALT$HASH   (salt and hash in base64)
type Crypto = typeof import('node:crypto');
/**
 * node:crypto, loaded when a password is first hashed or checked: every
 * manifest's validation reaches this file (isPasswordHash), and loading that
 * module at keel-init's boot costs 120-140 ms under qemu TCG (model/sha256.ts).
 */
const nodeCrypto = (): Crypto => require('node:crypto') as Crypto;

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

export function hashPassword(password: string, salt = nodeCrypto().randomBytes(16)): string {
  const hash = nodeCrypto().scryptSync(password, salt, KEYLEN, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function isPasswordHash(text: string): boolean {
  return /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(text);
}

export function verifyPassword(password: string, stored: string): boolean {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const want = Buffer.from(hash, 'base64');
  const got = nodeCrypto().scryptSync(password, Buffer.from(salt, 'base64'), want.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: 256 * Number(n) * Number(r) });
  return got.length === want.length && nodeCrypto().timingSafeEqual(got, want);
}
