// xorriso's rare crash of its own (about 1 run in 1,200 with several at once
// on these machines) cannot be provoked on demand, so a wrapper stands in
// for it: it crashes as xorriso does (the same report, exit 1, a half-written
// image), then hands over to the real xorriso. Failures that are xorriso's
// answer are provoked with the real one.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ISO_KERNEL, findIsoFile, writeIsoBios } from './iso.js';
import { XORRISO_ATTEMPTS, spawnXorriso } from './xorriso.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-xorriso-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kernel = join(dir, 'kernel');
const initrd = join(dir, 'initrd.img');
writeFileSync(kernel, Buffer.alloc(100_000, 0x6b));
writeFileSync(initrd, Buffer.alloc(200_000, 0x69));

/** A stand-in xorriso that crashes on its first `crashes` writes; each write is counted in NAME.runs. */
function crashingXorriso(name: string, crashes: number): { path: string; runs: () => number } {
  const path = join(dir, name);
  const runs = join(dir, `${name}.runs`);
  writeFileSync(runs, '');
  writeFileSync(
    path,
    `#!/bin/sh
[ "$1" = -version ] && exec xorriso "$@"
echo run >> '${runs}'
if [ "$(wc -l < '${runs}')" -le ${crashes} ]; then
  while [ "$1" != -o ]; do shift; done
  echo half > "$2"
  printf 'xorriso 1.5.4 : RockRidge filesystem manipulator, libburnia project.\\n\\nUNIX-SIGNAL:  SIGSEGV  errno= 0\\nxorriso : ABORT : Program done. Even if you do not see a shell prompt.\\n' >&2
  exit 1
fi
exec xorriso "$@"
`,
  );
  chmodSync(path, 0o755);
  return { path, runs: () => readFileSync(runs, 'utf8').split('\n').filter(Boolean).length };
}

describe('xorriso crashing on its own', () => {
  it('costs a build nothing: the run is repeated and the image is whole', () => {
    const fake = crashingXorriso('crashes-once', 1);
    const out = join(dir, 'once.iso');
    writeIsoBios({ kernel, initrd, cmdline: '', out, tools: { xorriso: fake.path } });
    expect(fake.runs()).toBe(2);
    const e = findIsoFile(out, ISO_KERNEL);
    expect(e?.size).toBe(100_000);
    expect(readFileSync(out).subarray(e!.offset, e!.offset + e!.size).equals(readFileSync(kernel))).toBe(true);
  });

  it(`fails the build, saying so, when it crashes on each of ${XORRISO_ATTEMPTS} tries, and leaves no file`, () => {
    const fake = crashingXorriso('crashes-always', 100);
    const out = join(dir, 'never.iso');
    expect(() => writeIsoBios({ kernel, initrd, cmdline: '', out, tools: { xorriso: fake.path } })).toThrow(
      new RegExp(`xorriso could not write ${out} \\(xorriso crashed on each of ${XORRISO_ATTEMPTS} tries\\): .*UNIX-SIGNAL:  SIGSEGV`, 's'),
    );
    expect(fake.runs()).toBe(XORRISO_ATTEMPTS);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.tmp-${process.pid}`)).toBe(false);
  });

  it("does not repeat a run that failed for a reason of the input's (xorriso's answer stands)", () => {
    const out = join(dir, 'missing.iso');
    const { result, attempts } = spawnXorriso('xorriso', ['-as', 'mkisofs', '-quiet', '-o', out, join(dir, 'no-such-folder')], out);
    expect(attempts).toBe(1);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/Cannot determine attributes of source file .*no-such-folder/);
  });
});
