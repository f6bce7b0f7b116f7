// Which ready-to-start service the start queue takes first. Starts are
// bounded (supervisor.ts), and a dependent can start only once its provider
// has: a provider left behind independent services holds up its whole chain,
// while they could have started beside its dependents. So each service's
// priority is the length of the longest chain of services waiting on it,
// directly or through others (critical path first, as list schedulers do).
import { waitersOf, type ServiceEntry } from '../model/index.js';

/**
 * Each service's longest chain of waiters: 0 when nothing waits on it, else
 * one more than its longest-waiting waiter's. Iterative and linear in
 * services plus dependencies: a manifest may hold one chain of 20,000 and
 * more (21,000 fit in 1 MiB of YAML), and this runs in PID 1 before any
 * service starts, where running out of stack would stop boot.
 */
export function startPriorities(services: readonly ServiceEntry[], waiters: ReadonlyMap<string, readonly string[]> = waitersOf(services)): Map<string, number> {
  // A name is 'open' while its waiters are being measured. model/ refuses a
  // cycle, so no waiter is still open when its provider is measured; one that
  // were would count as 0 rather than loop.
  const length = new Map<string, number | 'open'>();
  for (const s of services) {
    const stack: Array<{ name: string; measured: boolean }> = [{ name: s.name, measured: false }];
    while (stack.length > 0) {
      const { name, measured } = stack.pop()!;
      const next = waiters.get(name) ?? [];
      if (measured) {
        length.set(name, next.reduce((most, w) => { const n = length.get(w); return Math.max(most, typeof n === 'number' ? n + 1 : 0); }, 0));
        continue;
      }
      if (length.has(name)) continue;
      length.set(name, 'open');
      stack.push({ name, measured: true });
      for (const w of next) if (!length.has(w)) stack.push({ name: w, measured: false });
    }
  }
  return new Map([...length].map(([name, n]) => [name, typeof n === 'number' ? n : 0]));
}
