// Reading and tidying a container's cgroup, on cgroup v2 (keel's machines)
// and on v1/hybrid hosts (these dev and CI machines).
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResourceStats } from './engine.js';
import { signalPids } from './pids.js';

const ROOT = '/sys/fs/cgroup';

export function cgroupV2(): boolean {
  return existsSync(join(ROOT, 'cgroup.controllers'));
}

/**
 * Every directory that holds the cgroup: one on v2, one per mounted hierarchy
 * on v1, the unified one of a hybrid host included (runc makes the container's
 * cgroup there too, and runc delete removes it there).
 */
export function cgroupDirs(cgroupsPath: string): string[] {
  if (cgroupV2()) return [join(ROOT, cgroupsPath)];
  return readdirSync(ROOT).map((hierarchy) => join(ROOT, hierarchy, cgroupsPath));
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

/** Which of the cgroup's directories exist now: taken before a container starts, so keel never removes a cgroup it did not make. */
export function existingCgroupDirs(cgroupsPath: string): Set<string> {
  return new Set(cgroupDirs(cgroupsPath).filter((d) => existsSync(d)));
}

/**
 * runc removes a container's cgroup, and every empty cgroup below it, when
 * the container is deleted. A cgroupsPath that names an existing cgroup
 * with cgroups below it would lose them: such a start is refused, naming it.
 */
export function refuseSharedCgroup(cgroupsPath: string, existing: ReadonlySet<string>): void {
  for (const dir of existing) {
    let children: string[] = [];
    try {
      children = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      continue;
    }
    if (children.length) {
      throw new Error(`cgroupsPath ${cgroupsPath} is an existing cgroup with cgroups below it (${dir}: ${children.slice(0, 3).join(', ')}), which runc would remove with the container; give the container a cgroup of its own, e.g. ${cgroupsPath.replace(/\/$/, '')}/NAME`);
    }
  }
}

/**
 * Removes the container's cgroup directories that did not exist before it
 * started (with whatever the container made below them), children first.
 * A cgroup that was already there (a cgroupsPath naming an existing one,
 * even "/") is left alone, as is anything busy.
 */
export function removeCgroup(cgroupsPath: string, preexisting: ReadonlySet<string>): void {
  // rmdir first: a cgroup nothing was made below goes in one call (its control files do not count); ENOENT, it is gone.
  const remove = (d: string) => {
    try {
      rmdirSync(d);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' && (err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') return;
    }
    try {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) remove(join(d, e.name));
      rmdirSync(d);
    } catch {
      /* still has processes */
    }
  };
  for (const dir of cgroupDirs(cgroupsPath)) if (!preexisting.has(dir)) remove(dir);
}

/** The pids in the cgroup (from the hierarchy that lists them: the v2 one, or v1's pids or memory controller). */
export function cgroupPids(cgroupsPath: string): number[] {
  const candidates = cgroupV2() ? [join(ROOT, cgroupsPath)] : ['pids', 'memory', 'cpu', 'freezer'].map((c) => join(ROOT, c, cgroupsPath));
  for (const dir of candidates) {
    try {
      return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      /* not this hierarchy */
    }
  }
  return [];
}

/**
 * Signals every process in the cgroup without runc (when runc itself cannot:
 * missing, hung, broken). SIGKILL uses cgroup.kill where the kernel has it,
 * which no fork can race. Returns how many processes were signalled.
 */
export function signalCgroup(cgroupsPath: string, signal: NodeJS.Signals): number {
  const pids = cgroupPids(cgroupsPath);
  if (signal === 'SIGKILL' && cgroupV2()) {
    try {
      writeFileSync(join(ROOT, cgroupsPath, 'cgroup.kill'), '1');
      return pids.length;
    } catch {
      /* a kernel before 5.14: one by one below */
    }
  }
  return signalPids(pids, signal);
}

/** How often a fork was refused because the cgroup was at its pids limit. */
export function pidsLimitHits(cgroupsPath: string): number {
  const file = cgroupV2() ? join(ROOT, cgroupsPath, 'pids.events') : join(ROOT, 'pids', cgroupsPath, 'pids.events');
  try {
    return Number(/^max (\d+)/m.exec(readFileSync(file, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
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
      pidsLimitHits: pidsLimitHits(cgroupsPath),
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
    pidsLimitHits: pidsLimitHits(cgroupsPath),
  };
}
