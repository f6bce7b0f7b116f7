// Reading and tidying a container's cgroup, on cgroup v2 (keel's machines)
// and on v1/hybrid hosts (these dev and CI machines).
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ResourceStats } from './engine.js';

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

export type CgroupStats = ResourceStats;

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

function readKeyed(path: string): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const [k, v] = line.split(' ');
      if (k && v !== undefined) out[k] = Number(v);
    }
  } catch {
    /* absent */
  }
  return out;
}

/** Memory, CPU, pids and pressure of a cgroup, from whichever hierarchy the machine has. */
export function cgroupStats(cgroupsPath: string): CgroupStats {
  if (cgroupV2()) {
    const dir = join(ROOT, cgroupsPath);
    const cpu = readKeyed(join(dir, 'cpu.stat'));
    const pressure: Record<string, number> = {};
    for (const r of ['cpu', 'memory', 'io']) {
      try {
        const m = /^some avg10=([\d.]+)/m.exec(readFileSync(join(dir, `${r}.pressure`), 'utf8'));
        if (m) pressure[r] = Number(m[1]);
      } catch {
        /* no PSI in this kernel */
      }
    }
    return {
      memoryBytes: readNumber(join(dir, 'memory.current')),
      memoryPeakBytes: readNumber(join(dir, 'memory.peak')),
      cpuUsageUsec: cpu.usage_usec,
      cpuThrottledPeriods: cpu.nr_throttled,
      cpuThrottledUsec: cpu.throttled_usec,
      pids: readNumber(join(dir, 'pids.current')),
      ...(Object.keys(pressure).length ? { pressure } : {}),
    };
  }
  const cpu = readKeyed(join(ROOT, 'cpu', cgroupsPath, 'cpu.stat'));
  const usageNs = readNumber(join(ROOT, 'cpuacct', cgroupsPath, 'cpuacct.usage'));
  return {
    memoryBytes: readNumber(join(ROOT, 'memory', cgroupsPath, 'memory.usage_in_bytes')),
    memoryPeakBytes: readNumber(join(ROOT, 'memory', cgroupsPath, 'memory.max_usage_in_bytes')),
    cpuUsageUsec: usageNs !== undefined ? Math.round(usageNs / 1000) : undefined,
    cpuThrottledPeriods: cpu.nr_throttled,
    cpuThrottledUsec: cpu.throttled_time !== undefined ? Math.round(cpu.throttled_time / 1000) : undefined,
    pids: readNumber(join(ROOT, 'pids', cgroupsPath, 'pids.current')),
  };
}
