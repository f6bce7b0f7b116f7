// Loading the kernel modules the image carries, with finit_module(2) on
// threads of libuv's pool: boot goes on (console, log, control API, manifest)
// while the kernel links and initialises them, and what needs them waits.
// Several load at once, each as soon as the modules it needs are in: a
// module's init often sleeps (ata_piix waits for its ports to reset, and the
// kernel holds finit_module until the probing it started is done), and one
// module sleeping must not hold up the others.
//
// A driver of keel's own choosing loads before the workload only when one of
// its devices is there, as udev's coldplug would load it: the device's
// modalias in sysfs matches one of the driver's patterns (module-list.ts).
// Some devices appear only once another driver is in (virtio devices behind
// virtio_pci, a CD-ROM behind ata_piix), so sysfs is read again after each
// driver. Under emulation the CPU is the boot's bottleneck, and every module
// costs its share of it (its signature checked, its code linked); the
// drivers whose devices are not there load once boot is complete, for a
// device added later.
//
// A feature module of keel's own choosing (overlay, veth, bridge, isofs:
// module-list.ts's request names) is not loaded at boot: the kernel asks for
// it when something first needs it, through the image's modprobe helper
// (pkg/image/modprobe-helper.ts), and what is still not in loads once boot
// is complete, with the waiting drivers.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { MODULE_LIST } from '../../model/layout.js';
import { modaliasBus, moduleName, parseModuleList, withDependencies, type ModuleToLoad } from '../../model/module-list.js';
import type { Sys } from '../core/sys.js';

export interface ModulesLoaded {
  loaded: number;
  failed: string[];
  /** The three that took longest, for the log. */
  slowest: Array<{ module: string; ms: number }>;
}

export interface BootModules extends ModulesLoaded {
  /** Drivers left for after boot: none of their devices was there. */
  waiting: string[];
  /** Drivers left for after boot because the host said nothing sits behind their device (a DriverHold). */
  emptyByHost: Array<{ driver: string; why: string }>;
  /** Feature modules left for the kernel to ask for (else loaded after boot). */
  onRequest: string[];
  /** Time spent finding which drivers the devices present need. */
  scanMs: number;
  /** Loads the waiting drivers and the feature modules nothing asked for (and what they need); resolves with what that did. */
  loadWaiting: () => Promise<ModulesLoaded>;
}

/** At most this many finit_module calls at once: the pool (8 threads) keeps room for file I/O and the power button's reader. */
const AT_ONCE = 4;

type Loaded = { ms: number; error?: NodeJS.ErrnoException };
/** A module's load, with the module it was. */
type LoadedModule = Loaded & { path: string };

const nameOf = (m: { path: string }) => basename(m.path, '.ko');

function summary(results: readonly LoadedModule[]): ModulesLoaded {
  let loaded = 0;
  const failed: string[] = [];
  for (const r of results) {
    if (!r.error || r.error.code === 'EEXIST') loaded++; // EEXIST: built in or already loaded
    else failed.push(`${r.path}: ${r.error.message}`);
  }
  const slowest = results
    .map((r) => ({ module: nameOf(r), ms: Math.round(r.ms) }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 3);
  return { loaded, failed, slowest };
}

/**
 * Drivers whose device is always there but may have nothing behind it (the
 * disk controller qemu's machines always have), and the host's word on which
 * of them has nothing, which the module `until` makes readable (qemu_fw_cfg).
 * While `until` loads, they all wait; then the one the word names is left for
 * after boot and the others go. Without `until` among the modules loading
 * (another hypervisor, a kernel that builds it in and shows the word already),
 * the word is read at once or the drivers load as any other.
 */
export interface DriverHold {
  drivers: readonly string[];
  until: string;
  /** The driver with nothing behind its device and why (for the log), when the host says so; else undefined. */
  empty: (sysRoot: string) => { driver: string; why: string } | undefined;
}

export async function loadModules(sys: Sys, list = MODULE_LIST, sysRoot = '/sys', hold?: DriverHold): Promise<BootModules> {
  const none = { loaded: 0, failed: [], slowest: [] };
  if (!existsSync(list)) return { ...none, waiting: [], emptyByHost: [], onRequest: [], scanMs: 0, loadWaiting: async () => none };
  const modules = parseModuleList(readFileSync(list, 'utf8'));
  const load = async (path: string) => (await sys.finitModules([path]))[0]!;
  const devices = new DeviceScan(sysRoot);
  const taken = new Set<string>();
  const take = (picked: ModuleToLoad[]) => {
    for (const m of picked) taken.add(m.path);
    return picked;
  };
  const held = new HeldDrivers(modules, sysRoot, hold);
  let scanMs = 0;
  const forDevices = (drivers: readonly ModuleToLoad[]) => {
    const t0 = performance.now();
    const picked = take(modulesToLoad(modules, devices.appeared(drivers), taken, held.paths()));
    scanMs += performance.now() - t0;
    return picked;
  };
  // A held driver that is let go is matched against every device seen so far: the scans give each device once. (It
  // stays pending while held, so its buses are read like any waiting driver's and their devices are among those.)
  const letGo = () => take(modulesToLoad(modules, devices.all, taken, held.paths()));
  const pending = () => modules.filter((m) => m.devices.length > 0 && !taken.has(m.path));
  const scanned = forDevices(pending());
  const first = [...scanned, ...(held.decide(taken) ? letGo() : [])];
  // Only a driver can make new devices appear; after one, sysfs is read again (for the drivers still waiting).
  const results = await loadInDependencyOrder(first, load, (done) => {
    const released = held.loaded(done) ? letGo() : [];
    const waiting = pending();
    return [...released, ...(done.devices.length === 0 || waiting.length === 0 ? [] : forDevices(waiting))];
  });
  // A driver still held now whose device is here is one the host said is empty: it is reported as such, not among the
  // waiting ones. A held driver with no device here (the other machine's controller) waits as any other.
  const emptyByHost = held.left(devices.all);
  const holding = new Set(emptyByHost.map((e) => e.path));
  const left = modules.filter((m) => !taken.has(m.path) && !m.onlyAsDependency && !holding.has(m.path));
  const loadWaiting = async () => {
    // What the kernel asked for meanwhile is in already (its helper loaded it): not loaded, or counted, again.
    const rest = take(modulesToLoad(modules, undefined, taken)).filter((m) => !existsSync(`${sysRoot}/module/${moduleName(m.path)}`));
    return summary(await loadInDependencyOrder(rest, load));
  };
  const names = (onRequest: boolean) => left.filter((m) => (m.requests.length > 0) === onRequest).map(nameOf);
  return { ...summary(results), waiting: names(false), emptyByHost: emptyByHost.map(({ driver, why }) => ({ driver, why })), onRequest: names(true), scanMs: Math.round(scanMs), loadWaiting };
}

/**
 * The state of a DriverHold: waiting for its `until` module, let go, or left
 * for after boot on the host's word. `decide` settles it when that can be
 * done now (the word already readable, or no `until` loading); `loaded` when
 * the `until` module is in.
 */
class HeldDrivers {
  private readonly candidates: ModuleToLoad[];
  private word: { driver: string; why: string } | undefined;
  private settled: boolean;

  constructor(modules: readonly ModuleToLoad[], private readonly sysRoot: string, private readonly hold: DriverHold | undefined) {
    // Only drivers gated on their devices: one the manifest names loads before the workload whatever is there.
    const names = new Set(hold?.drivers ?? []);
    this.candidates = modules.filter((m) => names.has(moduleName(m.path)) && m.devices.length > 0);
    this.settled = this.candidates.length === 0;
  }

  /** The drivers held now: all of them until the word is read, then the one it names. */
  private held(): ModuleToLoad[] {
    if (!this.settled) return this.candidates;
    return this.candidates.filter((m) => moduleName(m.path) === this.word?.driver);
  }

  /** The paths not to pick now. */
  paths(): ReadonlySet<string> {
    return new Set(this.held().map((m) => m.path));
  }

  /** Before any module loads: true when drivers were let go (pick them like any other). */
  decide(taken: ReadonlySet<string>): boolean {
    if (this.settled) return false;
    const word = this.hold!.empty(this.sysRoot);
    const untilComing = [...taken].some((p) => moduleName(p) === this.hold!.until);
    if (word === undefined && untilComing) return false; // wait for it
    return this.settle(word);
  }

  /** After `done` loaded (or failed): true when that let drivers go. */
  loaded(done: ModuleToLoad): boolean {
    if (this.settled || moduleName(done.path) !== this.hold!.until) return false;
    return this.settle(this.hold!.empty(this.sysRoot));
  }

  private settle(word: { driver: string; why: string } | undefined): boolean {
    this.settled = true;
    this.word = word;
    return this.held().length < this.candidates.length;
  }

  /** The driver left on the host's word, when it drives one of the devices `present` (else it waits as any other). */
  left(present: readonly string[]): Array<{ path: string; driver: string; why: string }> {
    const why = this.word?.why;
    if (why === undefined) return [];
    return this.held().filter((m) => drivesOneOf(m, present)).map((m) => ({ path: m.path, driver: moduleName(m.path), why }));
  }
}

/** Whether `m` drives one of the devices whose modaliases are `present`. */
function drivesOneOf(m: ModuleToLoad, present: readonly string[]): boolean {
  return m.devices.some((p) => present.some((alias) => aliasMatches(p, alias)));
}

/**
 * What to load, in the list's order (dependencies first), of what is not
 * `taken` yet: each module not gated on a device or a request, each driver
 * one of whose devices is `present`, and the modules those need. With
 * `present` undefined (once boot is complete): every module left. A driver
 * in `held` is not picked for its devices (DriverHold).
 */
export function modulesToLoad(modules: readonly ModuleToLoad[], present: readonly string[] | undefined, taken: ReadonlySet<string>, held: ReadonlySet<string> = new Set()): ModuleToLoad[] {
  const wanted = (m: ModuleToLoad) => {
    if (m.onlyAsDependency) return false;
    if (present === undefined) return true;
    if (held.has(m.path)) return false;
    if (m.requests.length > 0) return false; // the kernel asks for it when it needs it
    return m.devices.length === 0 || drivesOneOf(m, present);
  };
  return withDependencies(modules, modules.filter(wanted), taken);
}

/** A pattern read once: its longest run of plain characters, and its regular expression's source (compiled when first needed). */
const globs = new Map<string, { literal: string; source: string; re?: RegExp }>();

function readGlob(pattern: string): { literal: string; source: string; re?: RegExp } {
  let source = '';
  let run = '';
  let literal = '';
  const endRun = () => {
    if (run.length > literal.length) literal = run;
    run = '';
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const close = c === '[' ? pattern.indexOf(']', i + 2) : -1;
    if (c === '*' || c === '?') {
      endRun();
      source += c === '*' ? '.*' : '.';
    } else if (close > 0) {
      endRun();
      const body = pattern.slice(i + 1, close);
      source += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
      i = close;
    } else {
      run += c;
      source += c.replace(/[.+^${}()|\\/\]\[]/g, '\\$&');
    }
  }
  endRun();
  return { literal, source };
}

/**
 * A driver's alias pattern against a device's modalias: shell-style * ? and [...], as modprobe matches them. The
 * pattern's longest run of plain characters is looked for first, and only a pattern that passes gets a regular
 * expression: a hundred patterns (ata_piix alone has 89) meet dozens of devices, and under emulation building and
 * running an expression for each pair took a few tenths of a second of boot.
 */
export function aliasMatches(pattern: string, modalias: string): boolean {
  let glob = globs.get(pattern);
  if (!glob) globs.set(pattern, (glob = readGlob(pattern)));
  if (!modalias.includes(glob.literal)) return false;
  glob.re ??= new RegExp(`^${glob.source}$`, 's');
  return glob.re.test(modalias);
}

/** Where sysfs lists the devices a modalias pattern's bus names: input devices are a class, device-tree ones platform devices. */
function deviceDirOf(pattern: string): string | undefined {
  const bus = modaliasBus(pattern);
  if (bus === undefined) return undefined;
  if (bus === 'input') return 'class/input';
  return `bus/${bus === 'of' ? 'platform' : bus}/devices`;
}

/** Each driver's device directories, worked out once (ata_piix has 89 patterns, all on one bus). */
const dirsOfDriver = new WeakMap<ModuleToLoad, string[]>();
function deviceDirsOf(driver: ModuleToLoad): string[] {
  let dirs = dirsOfDriver.get(driver);
  if (!dirs) {
    dirs = [...new Set(driver.devices.map(deviceDirOf).filter((d): d is string => d !== undefined))];
    dirsOfDriver.set(driver, dirs);
  }
  return dirs;
}

/**
 * The modaliases of the devices in sysfs that drivers not loaded yet could
 * drive, each device once: a scan after the first gives only the devices
 * that appeared since. The drivers still waiting were all waiting at every
 * scan before (a driver only ever leaves that list), so a device seen before
 * was already matched against each of them; only the new ones need matching.
 * Only the waiting drivers' buses are read: a machine has a hundred devices
 * of no interest here, and under emulation each read costs.
 */
class DeviceScan {
  private readonly seen = new Set<string>();
  /** Every modalias found so far. */
  readonly all: string[] = [];

  constructor(private readonly sysRoot: string) {}

  appeared(drivers: readonly ModuleToLoad[]): string[] {
    const found: string[] = [];
    for (const dir of new Set(drivers.flatMap(deviceDirsOf))) {
      const at = `${this.sysRoot}/${dir}`;
      for (const name of list(at)) {
        const device = `${at}/${name}`;
        if (this.seen.has(device)) continue;
        this.seen.add(device);
        const alias = modaliasOf(device);
        if (alias !== undefined) found.push(alias);
      }
    }
    this.all.push(...found);
    return found;
  }
}

function modaliasOf(device: string): string | undefined {
  const file = `${device}/modalias`;
  if (!existsSync(file)) return undefined; // many ACPI devices have none, and a thrown ENOENT costs more than the look
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined; // a device with no modalias
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Runs `load` for each module once every module it needs has been tried (a
 * module whose dependency failed is still tried, and its own error says why),
 * at most AT_ONCE at a time; a list that does not name dependencies is loaded
 * one after another. After each load, `more` may add modules to the end of
 * the list. Resolves with the results in the list's order.
 */
export function loadInDependencyOrder(
  initial: readonly ModuleToLoad[],
  load: (path: string) => Promise<Loaded>,
  more: (done: ModuleToLoad) => readonly ModuleToLoad[] = () => [],
): Promise<LoadedModule[]> {
  const modules = [...initial];
  const results: LoadedModule[] = [];
  const done = new Set<string>();
  const started = new Set<number>();
  const listed = new Set(modules.map((m) => m.path));
  let running = 0;
  let finished = 0;
  const ready = (i: number) => {
    const deps = modules[i]!.deps;
    if (deps === undefined) return modules.slice(0, i).every((m) => done.has(m.path));
    return deps.every((d) => done.has(d) || !listed.has(d)); // a dependency the list lacks (or loaded before) is not waited for
  };
  return new Promise((resolve) => {
    const next = () => {
      if (finished === modules.length) return resolve(results);
      for (let i = 0; i < modules.length && running < AT_ONCE; i++) {
        if (started.has(i) || !ready(i)) continue;
        started.add(i);
        running++;
        const m = modules[i]!;
        load(m.path)
          .catch((err: NodeJS.ErrnoException): Loaded => ({ ms: 0, error: err }))
          .then((r) => {
            results[i] = { ...r, path: m.path };
            done.add(m.path);
            finished++;
            running--;
            for (const added of more(m)) {
              if (listed.has(added.path)) continue;
              listed.add(added.path);
              modules.push(added);
            }
            next();
          });
      }
    };
    next();
  });
}
