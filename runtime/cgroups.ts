// Reading and tidying a container's cgroup, on cgroup v2 (keel's machines)
// and on v1/hybrid hosts (these dev and CI machines).
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';

export function cgroupV2(): boolean {
  return existsSync(join(ROOT, 'cgroup.controllers'));
}

/** Every directory that holds the cgroup: one on v2, one per mounted controller on v1. */
export function cgroupDirs(cgroupsPath: string): string[] {
  if (cgroupV2()) return [join(ROOT, cgroupsPath)];
  const out: string[] = [];
  for (const ctrl of readdirSync(ROOT)) {
    if (ctrl === 'unified') continue;
    out.push(join(ROOT, ctrl, cgroupsPath));
  }
  return out;
}

/** How many processes the kernel's OOM killer has killed in this cgroup. */
export function oomKills(cgroupsPath: string): number {
  try {
    if (cgroupV2()) {
      const text = readFileSync(join(ROOT, cgroupsPath, 'memory.events'), 'utf8');
      return Number(/^oom_kill (\d+)/m.exec(text)?.[1] ?? 0);
    }
    const text = readFileSync(join(ROOT, 'memory', cgroupsPath, 'memory.oom_control'), 'utf8');
    return Number(/^oom_kill (\d+)/m.exec(text)?.[1] ?? 0);
  } catch {
    return 0; // no memory controller, or the cgroup is gone
  }
}

/** Removes the cgroup's (empty) directories, children first; what is busy or absent is left. */
export function removeCgroup(cgroupsPath: string): void {
  for (const dir of cgroupDirs(cgroupsPath)) {
    const remove = (d: string) => {
      try {
        for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) remove(join(d, e.name));
        rmdirSync(d);
      } catch {
        /* absent, or still has processes */
      }
    };
    if (existsSync(dir)) remove(dir);
  }
}
