// Signals by pid never become signals to a group. The real source of a 0:
// a cgroup v2 cgroup holding a process outside the reader's PID namespace,
// whose cgroup.procs lists it as 0 there. The reader runs as PID 1 of a
// namespace and leader of a session of its own, so a kill(0) that slipped
// through would reach only itself (it would see its own SIGUSR2), never the
// test runner.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleScript } from './helpers/bundle-script.js';

// Reads cgroup.procs of argv[2] as keel's cgroup code reads it, signals those pids, reports.
const script = bundleScript(
  'signal',
  `import { readFileSync } from 'node:fs';
import { signalPids } from ${JSON.stringify(resolve('runtime/pids.ts'))};
let seen = 0;
process.on('SIGUSR2', () => seen++);
const listed = readFileSync(process.argv[2] + '/cgroup.procs', 'utf8').split('\\n').filter(Boolean).map(Number);
const reached = signalPids(listed, 'SIGUSR2');
setTimeout(() => console.log(JSON.stringify({ self: process.pid, listed, reached, seen })), 300);
`,
);
afterAll(() => rmSync(dirname(script), { recursive: true, force: true }));

/** The cgroup v2 hierarchy: the whole of /sys/fs/cgroup, or a hybrid host's unified one. */
function v2Root(): string {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
}

// A v1-only host (no unified hierarchy) has no such cgroup to read: v1 leaves outsiders out.
describe.skipIf(!existsSync(join(v2Root(), 'cgroup.procs')))('signals by pid', () => {
  it('skip the 0 that cgroup v2 lists for a process outside the PID namespace', async () => {
    const cgroup = join(v2Root(), `keel-test-${basename(dirname(script))}`);
    mkdirSync(cgroup);
    const outsider = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      writeFileSync(join(cgroup, 'cgroup.procs'), String(outsider.pid));
      const out = execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'setsid', process.execPath, script, cgroup], { encoding: 'utf8' });
      const r = JSON.parse(out) as { self: number; listed: number[]; reached: number; seen: number };
      expect(r.self).toBe(1);
      expect(r.listed).toEqual([0]); // the kernel's answer: there is a process, but not in this namespace
      expect(r.reached).toBe(0);
      expect(r.seen).toBe(0); // kill(0) would have signalled its own group
      expect(outsider.exitCode).toBeNull();
    } finally {
      outsider.kill('SIGKILL');
      await new Promise((r) => outsider.once('exit', r));
      rmdirSync(cgroup);
    }
  });
});
