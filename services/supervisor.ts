// The supervisor: all services, started in dependency order (independent ones
// in parallel, bounded), and stopped in reverse order at shutdown, each
// within its stopTimeout. A crash loop of one never holds up the others:
// each service runs its own loop; the queue only bounds concurrent starts,
// and takes first those that others wait on (start-priority.ts).
import PQueue from 'p-queue';
import { waitersOf, type Dependency, type ServiceEntry } from '../model/index.js';
import { Service, type ServiceDeps } from './service.js';
import { startPriorities } from './start-priority.js';
import type { ServiceState } from './states.js';
import { systemClock, type Clock } from './clock.js';

const STARTED: ServiceState[] = ['running', 'ready', 'completed'];
const READY: ServiceState[] = ['ready', 'completed'];

/** Whether `dep` meets a dependent's condition now. */
export function satisfied(dep: Service, condition: Dependency['condition']): boolean {
  if (condition === 'started') return STARTED.includes(dep.state);
  if (condition === 'ready') return READY.includes(dep.state);
  return dep.state === 'completed';
}

/** What the services came to at boot: how many were ready, and which ended without ever being ready. */
export interface ReadySummary {
  ready: number;
  neverReady: string[];
}

export class Supervisor {
  readonly services = new Map<string, Service>();
  private readonly queue: PQueue;
  /** Services handed to the start queue and not yet started by it. */
  private readonly queued = new Set<string>();
  private shuttingDown = false;

  /** stopAll has begun: nothing is to start again. */
  get stopping(): boolean {
    return this.shuttingDown;
  }
  private launched = false;
  /** When every service had been ready at least once, or had ended without it (see settled), in monotonic time (Clock.monotonic). */
  readyAt: number | undefined;
  private readonly readyWaiters: Array<(r: ReadySummary) => void> = [];
  private readonly everReady = new Set<string>();
  private summary: ReadySummary | undefined;
  private readonly clock: Clock;
  /** The services that depend on each, by name: started after it, stopped before it. */
  private readonly waiters: Map<string, string[]>;
  /** Each service's place in the start queue: the longest chain of services waiting on it. */
  private readonly priority: Map<string, number>;

  constructor(
    entries: readonly ServiceEntry[],
    deps: ServiceDeps,
    concurrency = 8,
  ) {
    this.queue = new PQueue({ concurrency });
    this.clock = deps.clock ?? systemClock;
    this.waiters = waitersOf(entries);
    this.priority = startPriorities(entries, this.waiters);
    for (const e of entries) {
      const s = new Service(e, deps);
      this.services.set(e.name, s);
      s.onChange(() => this.changed());
    }
  }

  get(name: string): Service | undefined {
    return this.services.get(name);
  }

  private depsOf(s: Service): Array<{ service: Service; condition: Dependency['condition'] }> {
    return s.entry.dependsOn.map((d) => ({ service: this.services.get(d.name)!, condition: d.condition }));
  }

  /** Starts every service whose dependencies allow it; the rest start as those become satisfied. */
  startAll(): void {
    this.launched = true;
    this.changed();
  }

  private changed(): void {
    if (!this.launched || this.shuttingDown) return;
    const startable: Service[] = [];
    for (const s of this.services.values()) {
      if (s.state !== 'waiting' || this.queued.has(s.name)) continue;
      const pending = this.depsOf(s).filter((d) => !satisfied(d.service, d.condition));
      if (pending.length === 0) {
        startable.push(s);
      } else {
        const blocked = pending.find((d) => d.service.state === 'failed' || d.service.state === 'stopped');
        const reason = blocked
          ? `waiting for ${blocked.service.name} to be ${blocked.condition}, but it is ${blocked.service.state}`
          : `waiting for ${pending.map((d) => `${d.service.name} (${d.condition})`).join(', ')}`;
        s.waitingFor(reason, blocked !== undefined);
      }
    }
    // Queued in priority order as well as with it: the queue starts a task the moment it has room, before the next is added.
    // All are marked queued first: a start changes its service's state, which runs this again inside the loop below.
    const priority = (s: Service) => this.priority.get(s.name) ?? 0;
    const order = startable.sort((a, b) => priority(b) - priority(a));
    for (const s of order) this.queued.add(s.name);
    for (const s of order) {
      void this.queue.add(
        async () => {
          this.queued.delete(s.name);
          if (!this.shuttingDown) await s.start();
        },
        { priority: priority(s) },
      );
    }
    this.settle();
  }

  /**
   * Boot's "services up" moment. Requiring every service to be ready at the
   * same instant never happens with a crash loop beside them (it is in
   * backoff whenever the others come up), so the moment is when each service
   * has been ready (or completed) at least once, or has ended (failed,
   * stopped) without ever being ready.
   */
  private settle(): void {
    for (const s of this.services.values()) if (READY.includes(s.state)) this.everReady.add(s.name);
    if (this.readyAt !== undefined) return;
    const ended = (s: Service) => s.state === 'failed' || s.state === 'stopped';
    const all = [...this.services.values()];
    if (!all.every((s) => this.everReady.has(s.name) || ended(s))) return;
    this.readyAt = this.clock.monotonic();
    this.summary = { ready: all.filter((s) => this.everReady.has(s.name)).length, neverReady: all.filter((s) => !this.everReady.has(s.name)).map((s) => s.name) };
    for (const w of this.readyWaiters.splice(0)) w(this.summary);
  }

  /** Resolves at that moment, with how many were ready and which never were. */
  allReady(): Promise<ReadySummary> {
    if (this.summary) return Promise.resolve(this.summary);
    return new Promise((r) => this.readyWaiters.push(r));
  }

  /** Services not yet stopped, with their state: what a shutdown is still waiting for. */
  stillRunning(): string[] {
    return [...this.services.values()].filter((s) => s.state !== 'stopped').map((s) => `${s.name} (${s.state})`);
  }

  /**
   * Stops everything in reverse dependency order: a service stops only after
   * every service that depends on it has stopped. Independent ones stop together.
   */
  async stopAll(): Promise<void> {
    this.shuttingDown = true;
    // Each service stops in its turn, after those that wait on it; until then none may start again.
    for (const s of this.services.values()) s.endRestarts();
    const stopped = new Map<string, Promise<void>>();
    const stopOne = (s: Service): Promise<void> => {
      let p = stopped.get(s.name);
      if (!p) {
        p = Promise.all((this.waiters.get(s.name) ?? []).map((w) => stopOne(this.services.get(w)!))).then(() => s.stop());
        stopped.set(s.name, p);
      }
      return p;
    };
    await Promise.all([...this.services.values()].map(stopOne));
    for (const s of this.services.values()) s.close();
  }
}
