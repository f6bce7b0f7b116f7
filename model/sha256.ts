// SHA-256 (FIPS 180-4) of a text's UTF-8 bytes, in plain JavaScript, for the
// manifest's identity in keel-init's boot plan. node:crypto would do it, but
// loading that module starts OpenSSL and 36 of node's internal modules:
// 120-140 ms of a boot under qemu TCG, measured in the guest with node
// already warm. This code digests the boot fixture's 3.8 KB manifest in
// 3-4 ms on the host in V8's interpreter (about 7 ms before its loops lost
// their calls), which TCG makes some tens of ms.

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/**
 * The hex digest of `text` encoded as UTF-8. Written for V8's interpreter,
 * which is all that runs it at boot (keel-init has no optimizing compiler,
 * model/v8-flags.ts): no calls in the loops, int32 arithmetic throughout.
 */
export function sha256Hex(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  const n = bytes.length;
  // Padded: a 1 bit, zeros, then the length in bits, big-endian, in the last 8 bytes of whole 64-byte blocks.
  const padded = Buffer.alloc(Math.ceil((n + 9) / 64) * 64);
  bytes.copy(padded);
  padded[n] = 0x80;
  padded.writeUInt32BE(Math.floor(n / 2 ** 29), padded.length - 8);
  padded.writeUInt32BE((n * 8) >>> 0, padded.length - 4);
  // Big-endian words, read as this machine's own by swapping each 4 bytes first.
  const words = new Int32Array(padded.swap32().buffer, padded.byteOffset, padded.length / 4);
  const w = new Int32Array(64);
  let h0 = 0x6a09e667, h1 = 0xbb67ae85 | 0, h2 = 0x3c6ef372, h3 = 0xa54ff53a | 0, h4 = 0x510e527f, h5 = 0x9b05688c | 0, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
  for (let at = 0; at < words.length; at += 16) {
    for (let i = 0; i < 16; i++) w[i] = words[at + i]!;
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  return [h0, h1, h2, h3, h4, h5, h6, h7].map((x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
}
