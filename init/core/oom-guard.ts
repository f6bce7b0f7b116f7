// Keeping the kernel's OOM killer off keel itself as a container's init. In a
// container with a memory limit, the OOM killer picks the process of the
// container's cgroup with the most memory, and that is keel-init (about
// 48 MiB, most of it node's own pages) long before any small service: keel
// dies, and the container with it, without a word (a 64 MiB container whose
// command ran 14 processes of 4 MB each). A PID 1 of a PID namespace is no
// global init, so the kernel does not spare it. Lowering keel's own
// oom_score_adj needs CAP_SYS_RESOURCE, which Docker does not give; raising a
// child's never needs a capability. So the processes keel starts get a higher
// score than keel's own, by enough to outweigh keel's size at that limit:
// the OOM killer then picks among them by size, as it would under tini.
import { readFileSync } from 'node:fs';

/** Above this, a limit is the kernel's "no limit" (cgroup v1 writes 2^63 rounded down to a page). */
const NO_LIMIT = 2 ** 60;
/** keel's size counted twice: it grows past what it is at boot. */
const MARGIN = 2;

/** The container's memory limit in bytes (cgroup v2, else v1, as the engine mounts them in a container), or undefined. */
export function containerMemoryLimit(): number | undefined {
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      continue;
    }
    const bytes = Number(text);
    return text === 'max' || !Number.isFinite(bytes) || bytes <= 0 || bytes >= NO_LIMIT ? undefined : bytes;
  }
  return undefined;
}

/**
 * The oom_score_adj for the processes keel starts that do not set one:
 * keel's own, raised by the share of the limit keel's memory takes (the
 * kernel adds adj/1000 of the limit to a process's size), at most 1000.
 * Undefined without a limit: they keep keel's, as they would inherit it.
 */
export function childOomScoreAdj(own: number, keelBytes: number, limit: number | undefined): number | undefined {
  if (limit === undefined) return undefined;
  return Math.min(1000, own + Math.ceil((1000 * MARGIN * keelBytes) / limit));
}

/** keel's own oom_score_adj (0 when it cannot be read). */
export function ownOomScoreAdj(): number {
  try {
    return Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}
