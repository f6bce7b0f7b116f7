// keel's extensions for supervised services: restart policy, backoff, start
// limits, stop behaviour, dependencies, readiness and health, and logs.
import { containerBaseFields } from './container.js';
import { duration } from './duration.js';
import { eitherKind } from './process.js';
import { restartPolicy, signalName, size } from './fields.js';
import { bool, clip, defaulted, either, field, int, list, num, object, oneOf, refine, str, transform, type Spec } from './schema.js';
import { parseRestart, type RestartPolicy } from './strings.js';

export const backoffSpec = object({
  initial: field(duration(), { default: 100, description: 'First delay before a restart' }),
  factor: field(num({ min: 1 }), { default: 2, description: 'Each consecutive failure multiplies the delay by this' }),
  max: field(duration(), { default: 30_000, description: 'The delay never grows past this' }),
  jitter: field(num({ min: 0, max: 1 }), { default: 0.1, description: 'Random spread of each delay, as a fraction (0.1 = ±10%)' }),
  resetAfter: field(duration(), { default: 10_000, description: 'A run this long resets the delay to initial' }),
});

export const startLimitSpec = object({
  burst: field(int({ min: 1 }), { default: 5 }),
  interval: field(duration(), { default: 10_000 }),
});

export const readySpec = object({
  exec: field(list(str()), { required: true, description: 'Command run in the container with runc exec (beside a process entry, as its user); exit 0 means ready/healthy' }),
  interval: field(duration(), { default: 1000 }),
  timeout: field(duration(), { default: 5000 }),
  retries: field(int({ min: 1 }), { default: 3, description: 'Consecutive failures after ready that make the service unhealthy' }),
  startPeriod: field(duration(), { default: 0, description: 'Failures in this first period do not count' }),
});

export interface Dependency {
  name: string;
  condition: 'started' | 'ready' | 'completed';
}

/** A service name (waits for it to be ready) or {name, condition}; always the full form once parsed. */
const dependency: Spec<Dependency> = transform(
  either(
    str({ pattern: /^[a-z0-9][a-z0-9_.-]*$/, patternHint: 'a service name' }),
    object({ name: field(str({ nonEmpty: true }), { required: true }), condition: field(oneOf(['started', 'ready', 'completed'] as const), { default: 'ready' as const }) }),
    'a service name or {name, condition: started | ready | completed}',
  ),
  (d): Dependency => (typeof d === 'string' ? { name: d, condition: 'ready' } : d),
  (d) => (d.condition === 'ready' ? d.name : d),
);

export const logsSpec = object({
  lines: field(int({ min: 1 }), { default: 5000, description: 'Lines kept in memory per service' }),
  bytes: field(size(), { default: 1 << 20, description: 'Bytes kept in memory per service' }),
  file: field(bool(), { default: false, description: 'Also write the log to STATE_DIR/logs/NAME.log' }),
  maxFileSize: field(size(), { default: 10 << 20, description: 'Rotate the file at this size' }),
  keepFiles: field(int({ min: 0 }), { default: 3, description: 'Rotated files kept (NAME.log.1 …)' }),
});

export const serviceSpec = eitherKind(object({
  ...containerBaseFields,
  restart: field(restartPolicy, { default: parseRestart('always') as RestartPolicy }),
  backoff: defaulted(backoffSpec),
  startLimit: defaulted(startLimitSpec),
  stopSignal: field(signalName, { default: 'SIGTERM' as const }),
  stopTimeout: field(duration(), { default: 10_000 }),
  dependsOn: field(list(dependency), { default: [] }),
  ready: field(readySpec),
  restartOnUnhealthy: field(bool(), { default: false }),
  logs: defaulted(logsSpec),
  notify: field(bool(), { default: false, description: 'Bind an sd_notify socket into the container as $NOTIFY_SOCKET; READY=1 marks the service ready' }),
  watchdogSec: field(duration(), { description: 'With notify: restart the service when WATCHDOG=1 does not come within this long' }),
}));

type SpecValue<S> = S extends Spec<infer T> ? T : never;
export type ServiceEntry = SpecValue<typeof serviceSpec>;

/** The services that depend on each service (directly), by name, in the manifest's order. */
export function waitersOf(services: readonly ServiceEntry[]): Map<string, string[]> {
  const waiters = new Map<string, string[]>();
  for (const s of services) {
    for (const d of s.dependsOn) {
      const list = waiters.get(d.name);
      if (list) list.push(s.name);
      else waiters.set(d.name, [s.name]);
    }
  }
  return waiters;
}

/** Finds a dependency cycle, returned as the names around it, e.g. [a, b, a]. */
export function findCycle(services: readonly ServiceEntry[]): string[] | undefined {
  const deps = new Map(services.map((s) => [s.name, s.dependsOn.map((d) => d.name)]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'visiting') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'visiting');
    stack.push(n);
    for (const d of deps.get(n) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const s of services) {
    const c = visit(s.name);
    if (c) return c;
  }
  return undefined;
}

/** Services with names unique, dependencies that exist, and no cycle. */
export function serviceList(): Spec<ServiceEntry[]> {
  return refine(list(serviceSpec), (entries) => {
    const names = new Set<string>();
    for (const e of entries) {
      if (names.has(e.name)) return `the name "${e.name}" is used twice; service names must be unique`;
      names.add(e.name);
    }
    for (const e of entries) {
      if (e.watchdogSec !== undefined && !e.notify) return `${e.name}: watchdogSec needs notify: true (the watchdog is fed with WATCHDOG=1 on the notify socket)`;
      for (const d of e.dependsOn) {
        if (!names.has(d.name)) return `${e.name}: dependsOn names "${clip(d.name)}", which is not a service in this manifest`;
        if (d.name === e.name) return `${e.name}: a service cannot depend on itself`;
      }
    }
    const cycle = findCycle(entries);
    return cycle ? `dependency cycle: ${cycle.join(' -> ')}` : undefined;
  });
}
