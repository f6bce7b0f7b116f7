import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from './sha256.js';

const reference = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe('sha256Hex', () => {
  it("gives FIPS 180-4's own test vectors", () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });

  it("agrees with node's crypto at every length around a block's end, for non-ASCII text and for a large manifest", () => {
    for (let n = 0; n <= 130; n++) expect(sha256Hex('k'.repeat(n))).toBe(reference('k'.repeat(n)));
    const text = 'services:\n  - name: caf\u00e9 \u{1f680}\n';
    expect(sha256Hex(text)).toBe(reference(text));
    const big = JSON.stringify({ services: Array.from({ length: 5000 }, (_, i) => ({ name: `s${i}`, image: 'busybox' })) });
    expect(sha256Hex(big)).toBe(reference(big));
  });
});
