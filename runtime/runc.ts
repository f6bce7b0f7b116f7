// The runc driver. For now: finding runc and its version (keel-init reports
// it at boot, and a manifest with containers cannot boot without it).
import { execFile } from 'node:child_process';

export interface RuncInfo {
  path: string;
  version: string;
}

/** `runc --version`, or undefined when runc is not installed or does not run. */
export function runcVersion(runc = 'runc', timeoutMs = 10_000): Promise<RuncInfo | undefined> {
  return new Promise((resolve) => {
    execFile(runc, ['--version'], { timeout: timeoutMs }, (err, stdout) => {
      if (err) return resolve(undefined);
      const version = /runc version (\S+)/.exec(stdout)?.[1] ?? stdout.split('\n')[0] ?? 'unknown';
      resolve({ path: runc, version });
    });
  });
}
