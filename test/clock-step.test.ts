// The wall clock stepped an hour forward during boot, as ntpd or chronyd
// would on a machine whose clock was off, against the real keel-init in
// namespace mode. The step is made for keel-init's process tree only, by an
// LD_PRELOAD library (test/fixtures/clock-step): setting the host's clock
// would disturb everything else on it, and a time namespace moves only the
// monotonic clocks, which is the fault this test must not provoke.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, inspectService, keelCli, startKeel, type KeelNs } from './helpers/keel-ns.js';

let fixtures: string;
let shim: string;
let keel: KeelNs | undefined;

beforeAll(() => {
  fixtures = mkdtempSync(join(tmpdir(), 'keel-clock-step-'));
  shim = join(fixtures, 'clock-step.so');
  const cc = spawnSync('gcc', ['-O2', '-shared', '-fPIC', '-o', shim, join(import.meta.dirname, 'fixtures/clock-step/clock-step.c'), '-ldl'], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build the clock-step fixture (make deps installs gcc): ${cc.stderr}`);
});
afterAll(() => rmSync(fixtures, { recursive: true, force: true }));
afterEach(() => {
  keel?.cleanup();
  keel = undefined;
});

const HOUR_MS = 3_600_000;

describe('the wall clock set an hour forward during boot', () => {
  it('moves no duration: the boot report, "all services ready", a run\'s length and its backoff', async () => {
    keel = startKeel(
      `services:
  - name: slow
    kind: process
    command: ["sh", "-c", "sleep 1.5; touch ${fixtures}/slow-ready; exec sleep 1000"]
    ready: {exec: ["test", "-f", "${fixtures}/slow-ready"], interval: 100ms}
  - name: crash
    kind: process
    command: ["sh", "-c", "sleep 1; exit 1"]
    backoff: {initial: 2s, factor: 2, jitter: 0, resetAfter: 30m}
`,
      { LD_PRELOAD: shim, STEP_AT_MS: '800', STEP_BY_MS: String(HOUR_MS) },
    );
    const ready = await keel.waitFor(/all 2 service\(s\) ready \d+ ms after keel started/, 30_000);
    expect(Number(/ready (\d+) ms/.exec(ready)![1])).toBeLessThan(60_000);
    const report = JSON.parse(keelCli(keel, 'boot-report').stdout) as { servicesReadyMs: number; bootCompleteMs: number };
    expect(report.servicesReadyMs).toBeLessThan(60_000);
    expect(report.bootCompleteMs).toBeLessThan(60_000);
    // The crash loop's runs last a second, stepped or not, and count as failures in a row: 2 s, then 4 s.
    await keel.waitFor(/service crash .*restarting in 4000 ms/, 30_000);
    await eventually(() => inspectService(keel!, 'crash').exits.length >= 2, 10_000, 'two exits');
    for (const e of inspectService(keel, 'crash').exits) expect(e.runMs).toBeLessThan(5000);
  }, 90_000);
});
