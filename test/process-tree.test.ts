// The process tree a timed-out helper is killed with, read from a real /proc:
// in a PID namespace with its own /proc, and in one whose /proc is still the
// host's, where the pids /proc gives are not the namespace's and the tree must
// not be read at all (signalling those numbers would hit other processes).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleScript } from './helpers/bundle-script.js';

// Starts a child that starts a grandchild, then prints what descendants() finds below this process.
const script = bundleScript(
  'tree',
  `import { spawn } from 'node:child_process';
import { descendants } from ${JSON.stringify(resolve('runtime/process-tree.ts'))};
const child = spawn('sh', ['-c', 'sleep 4242011 & exec sleep 4242012'], { stdio: 'ignore' });
setTimeout(() => {
  console.log(JSON.stringify({ self: process.pid, child: child.pid, found: descendants(process.pid).length }));
  child.kill('SIGKILL');
  process.exit(0);
}, 500);
`,
);
afterAll(() => rmSync(dirname(script), { recursive: true, force: true }));

function runIn(unshareArgs: string[]): { self: number; child: number; found: number } {
  return JSON.parse(execFileSync('unshare', [...unshareArgs, process.execPath, script], { encoding: 'utf8' })) as { self: number; child: number; found: number };
}

describe('process tree', () => {
  it('finds a child and its child where /proc is the namespace’s own', () => {
    const r = runIn(['--pid', '--fork', '--mount-proc']);
    expect(r.self).toBe(1);
    expect(r.found).toBe(2);
  });

  it('finds nothing, rather than strangers, where /proc is another namespace’s', () => {
    const r = runIn(['--pid', '--fork']);
    expect(r.self).toBe(1);
    expect(r.found).toBe(0);
  });
});
