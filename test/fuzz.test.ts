// Property-based fuzzing (fast-check) of the two ways input reaches keel:
// the manifest loader (random YAML and JSON documents, and mutations of
// valid manifests, as text and as data) and the control API (random
// methods, paths, queries, headers and bodies over raw sockets to a real
// ControlApi on a temporary socket, over a supervisor of real Services on an
// in-memory engine). Each property runs for a few seconds from a seed that
// is printed, and KEEL_FUZZ_SEED=N replays it (KEEL_FUZZ_MS sets the time). Nothing may crash, no
// message may carry a stack trace, the API never answers 500, and every
// manifest problem names the file and a field (or, for text that is not
// YAML at all, a line).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as yamlText } from 'yaml';
import { ControlApi } from '../api/server.js';
import type { BootReport } from '../api/wire.js';
import { EventBus } from '../events/bus.js';
import { ManifestError, normalizedJson, parseManifest } from '../model/index.js';
import type { NotifyHub } from '../services/notify.js';
import { Supervisor } from '../services/supervisor.js';
import { FakeEngine } from './helpers/fake-engine.js';

const SEED = process.env.KEEL_FUZZ_SEED ? Number(process.env.KEEL_FUZZ_SEED) : Date.now() % 2 ** 31;
/** Each property runs this long; KEEL_FUZZ_MS=60000 fuzzes deeper by hand. */
const TIME_MS = Number(process.env.KEEL_FUZZ_MS ?? 4000);
const STACK = /\n\s+at \S/;

/** Runs a property for TIME_MS from SEED; a failure names the seed to replay it with. */
async function check<Ts extends [unknown, ...unknown[]]>(name: string, property: fc.IRawProperty<Ts>): Promise<void> {
  console.log(`fuzz ${name}: seed ${SEED} (replay: KEEL_FUZZ_SEED=${SEED} npx vitest run test/fuzz.test.ts)`);
  try {
    await fc.assert(property, { seed: SEED, numRuns: 1_000_000, interruptAfterTimeLimit: TIME_MS, markInterruptAsFailure: false });
  } catch (err) {
    const cause = (err as Error).cause;
    throw new Error(`fuzz ${name} failed; replay with KEEL_FUZZ_SEED=${SEED}\n${(err as Error).message}${cause ? `\nbecause: ${(cause as Error).message ?? String(cause)}` : ''}`);
  }
}

// ---- The manifest loader ----

const FIXTURES = join(import.meta.dirname, 'fixtures/linuxkit');
const RICH = `hostname: box
kernel: {cmdline: "console=ttyS0", modules: [loop]}
files:
  - {path: etc/motd, contents: hi, mode: 0644}
volumes:
  - {name: data}
shutdown: {grace: 2s}
console: {access: open}
onboot:
  - {name: setup, image: /i, command: [/bin/true], timeout: 30s, critical: true, capabilities: [CAP_NET_ADMIN], seccomp: unconfined}
services:
  - name: db
    image: /i
    restart: on-failure:3
    backoff: {initial: 100ms, factor: 2, max: 5s, jitter: 0.1, resetAfter: 10s}
    startLimit: {burst: 5, interval: 1m}
    ready: {exec: [test, -f, /ready], interval: 1s}
    binds: ["data:/data", "/etc/x:/x:ro"]
    tmpfs: ["/run:size=1m"]
    rlimits: ["nofile,100,unlimited"]
    resources: {memory: {limit: 64m}, pids: {limit: 100}}
    logs: {lines: 100, bytes: 1m}
    env: &env [A=1, B=2]
  - name: web
    image: /i
    dependsOn: [db, {name: db, condition: started}]
    env: *env
    uid: db
    notify: true
    watchdogSec: 5s
    stopSignal: SIGINT
    stopTimeout: 3s
    seccomp: default
    noNewPrivileges: false
`;
const VALID = [RICH, ...readdirSync(FIXTURES).filter((f) => f.endsWith('.yml')).map((f) => readFileSync(join(FIXTURES, f), 'utf8'))];
const TOKENS = [':', ': ', '- ', '&a ', '*a', '*nope', '!!str ', '!!binary ', '!custom ', '{', '}', '[', ']', '\n', '\n  ', '"', "'", '|', '>-', '#', '%YAML 1.2\n---\n', '---\n', '...\n', '? ', ',', '\t', '\u0000', '\uFEFF', '\u2028', '0644', '1e308', '-1', 'x'.repeat(3000), '__proto__: 1\n'];

/** A text mutation: an edit at a position (taken modulo the text's length). */
const textEdit = fc.record({ at: fc.nat(), op: fc.constantFrom('insert', 'delete', 'duplicate-line'), token: fc.constantFrom(...TOKENS), length: fc.integer({ min: 1, max: 40 }) });

function applyEdit(text: string, e: { at: number; op: string; token: string; length: number }): string {
  const at = text.length ? e.at % text.length : 0;
  if (e.op === 'insert') return text.slice(0, at) + e.token + text.slice(at);
  if (e.op === 'delete') return text.slice(0, at) + text.slice(at + e.length);
  const start = text.lastIndexOf('\n', at) + 1;
  const end = text.indexOf('\n', at);
  const line = text.slice(start, end === -1 ? text.length : end + 1);
  return text.slice(0, start) + line + line + text.slice(start + line.length);
}

const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(null, true, -1, 0, 1e308, -0, 2 ** 53, '0644', '1h', '600h', 'all', 'none', '/x', 'default', 'unconfined', 'x'.repeat(5000), [], {}, ['a'], { name: 'x' }),
);

/** A data mutation: walk from the top by `steps` (each picks a key or an item), then replace, delete or add there. */
const dataEdit = fc.record({ steps: fc.array(fc.nat(), { maxLength: 6 }), op: fc.constantFrom('replace', 'delete', 'add'), key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('name', 'image', 'seccomp', 'capabilities', 'dependsOn', 'format')), value: oddValue });

function applyData(data: unknown, e: { steps: number[]; op: string; key: string; value: unknown }): unknown {
  const root = { top: structuredClone(data) as unknown };
  let parent: Record<string, unknown> | unknown[] = root;
  let key: string | number = 'top';
  for (const step of e.steps) {
    const here = (parent as Record<string | number, unknown>)[key];
    if (here === null || typeof here !== 'object') break;
    const keys: Array<string | number> = Array.isArray(here) ? here.map((_, i) => i) : Object.keys(here);
    if (keys.length === 0) break;
    parent = here as Record<string, unknown>;
    key = keys[step % keys.length]!;
  }
  const target = parent as Record<string | number, unknown>;
  if (e.op === 'replace') target[key] = e.value;
  else if (e.op === 'delete') {
    if (Array.isArray(target)) target.splice(key as number, 1);
    else delete target[key];
  } else {
    const here = target[key];
    if (here !== null && typeof here === 'object' && !Array.isArray(here)) (here as Record<string, unknown>)[e.key] = e.value;
    else target[key] = { [e.key]: e.value };
  }
  return root.top ?? null;
}

/** A document: raw text, random data as YAML or JSON, or a valid manifest mutated as text, as data, or as the normalized JSON. */
const manifestText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => yamlText(v)),
  fc.tuple(fc.constantFrom(...VALID), fc.array(textEdit, { minLength: 1, maxLength: 4 })).map(([text, edits]) => edits.reduce(applyEdit, text)),
  fc.tuple(fc.constantFrom(...VALID), fc.array(dataEdit, { minLength: 1, maxLength: 3 }), fc.boolean()).map(([text, edits, json]) => {
    const data = edits.reduce(applyData, parseYaml(text) as unknown);
    return json ? JSON.stringify(data) : yamlText(data, { aliasDuplicateObjects: false });
  }),
  fc.tuple(fc.constantFrom(...VALID), fc.array(dataEdit, { minLength: 1, maxLength: 3 })).map(([text, edits]) => JSON.stringify(edits.reduce(applyData, JSON.parse(normalizedJson(parseManifest(text, join(FIXTURES, 'x.yml')))) as unknown), null, 2)),
);

const FILE = join(FIXTURES, 'fuzz.yml');

function manifestHolds(text: string): void {
  let manifest;
  try {
    manifest = parseManifest(text, FILE);
  } catch (err) {
    if (!(err instanceof ManifestError)) throw new Error(`not a ManifestError: ${(err as Error)?.stack ?? String(err)}`);
    expect(err.problems.length).toBeGreaterThan(0);
    for (const p of err.problems) {
      expect(p.file).toBe(FILE);
      expect(p.field !== '' || p.line !== undefined, `no field and no line: ${p.message}`).toBe(true);
      expect(p.message).not.toMatch(STACK);
      expect(p.message).not.toMatch(/internal error/i);
      expect(p.message.length).toBeLessThanOrEqual(1100);
    }
    return;
  }
  // What loads, the normalized JSON carries unchanged (as data: -0 and 0 are one duration).
  const asData = (m: unknown) => JSON.parse(JSON.stringify(m)) as unknown;
  expect(asData(parseManifest(normalizedJson(manifest), FILE))).toEqual(asData(manifest));
}

describe('fuzz: the manifest loader', () => {
  it('never crashes; problems name the file and a field; what loads round-trips', async () => {
    await check('manifest', fc.property(manifestText, manifestHolds));
  }, TIME_MS + 60_000);
});

// ---- The control API ----

let dir: string;
let api: ControlApi;
let socket: string;

const REPORT = { startedAt: new Date().toISOString(), mode: 'namespace', kernelToKeelMs: undefined, onbootMs: 1, bootCompleteMs: 2, servicesReadyMs: 3, onboot: [], stages: [] } satisfies BootReport;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keel-fuzz-'));
  const manifest = parseManifest('services:\n  - {name: web, image: /i}\n  - {name: db, image: /i, restart: "no"}\n  - {name: note, image: /i, notify: true}\n', 'keel.yml');
  const bus = new EventBus();
  const notifyHub: NotifyHub = { open: (service) => ({ path: join(dir, `${service}.sock`), close: () => {} }) };
  const supervisor = new Supervisor(manifest.services, { engine: new FakeEngine(), emit: (e) => bus.emit(e), stateDir: dir, notifyHub });
  supervisor.startAll();
  api = new ControlApi({ bus, supervisor: () => supervisor, bootReport: () => REPORT, power: () => {}, maxConnections: 64 });
  socket = join(dir, 'keel.sock');
  await api.listen(socket);
});
afterAll(() => {
  api.close();
  rmSync(dir, { recursive: true, force: true });
});

const NAMES = ['web', 'db', 'note', 'nope', '', '%', '%2F', '%E0%A4%A', '..', 'a'.repeat(300), '%00', 'w%65b'];
const PATHS = ['/v1/services', '/v1/services/N', '/v1/services/N/start', '/v1/services/N/stop', '/v1/services/N/restart', '/v1/services/N/reset', '/v1/services/N/logs', '/v1/services/N/exec', '/v1/console', '/v1/events', '/v1/ttys/N', '/v1/ttys/N/resize', '/v1/ttys/N/eof', '/v1/stats', '/v1/boot', '/v2/x', '/', '*', '//v1//services', '/v1/services/N/../../boot'];
const QUERY_KEYS = ['tail', 'since', 'follow', 'previous', 'format', 'wait', 'cols', 'rows', 'x'];
const QUERY_VALUES = ['1', '0', '-1', 'json', 'abc', '1e9', '', '%', '99999999999999999999'];

const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'BREW'),
  path: fc.oneof(
    fc.tuple(fc.constantFrom(...PATHS), fc.constantFrom(...NAMES)).map(([p, n]) => p.replace('N', n)),
    fc.string({ unit: fc.constantFrom(...'abcv1/%.?&=#~:@!$'.split('')), maxLength: 40 }).map((s) => `/${s}`),
  ),
  query: fc.array(fc.tuple(fc.constantFrom(...QUERY_KEYS), fc.constantFrom(...QUERY_VALUES)), { maxLength: 4 }),
  headers: fc.array(fc.constantFrom('content-type: application/json', 'content-type: text/plain', 'accept: */*', 'connection: upgrade\r\nupgrade: tty', 'expect: 100-continue', 'x-junk: \u00ff\u00fe', 'keel-tty: 7'), { maxLength: 3 }),
  chunked: fc.boolean(),
  body: fc.oneof(fc.constant(''), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)), fc.string({ maxLength: 60 }), fc.constantFrom('{', 'x'.repeat(70 * 1024))),
});

type Request = typeof request extends fc.Arbitrary<infer R> ? R : never;

function wire(r: Request): string {
  const query = r.query.length ? `?${r.query.map(([k, v]) => `${k}=${v}`).join('&')}` : '';
  const body = r.chunked ? (r.body ? `${Buffer.byteLength(r.body).toString(16)}\r\n${r.body}\r\n` : '') + '0\r\n\r\n' : r.body;
  const length = r.chunked ? 'transfer-encoding: chunked' : `content-length: ${Buffer.byteLength(r.body)}`;
  const upgrade = r.headers.some((h) => h.startsWith('connection: upgrade'));
  return [`${r.method} ${r.path}${query} HTTP/1.1`, 'host: keel', ...r.headers, length, ...(upgrade ? [] : ['connection: close']), '', body].join('\r\n');
}

/** Sends raw bytes; what came back, once the server closed or had said enough (a follow stream never ends). */
function exchange(bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(socket);
    let got = '';
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    s.on('data', (d) => {
      got += d.toString('latin1');
      timer ??= setTimeout(done, 150);
    });
    s.on('close', done);
    s.on('error', done);
    s.write(bytes, 'latin1');
    setTimeout(done, 3000);
  });
}

async function apiHolds(r: Request): Promise<void> {
  const reply = await exchange(wire(r));
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(reply)?.[1];
  expect(status, `no answer to ${JSON.stringify(wire(r).slice(0, 300))}`).toBeDefined();
  expect(Number(status), reply.slice(0, 500)).not.toBe(500);
  expect(reply).not.toMatch(STACK);
}

describe('fuzz: the control API', () => {
  it('answers every request, never 500, never with a stack trace, and stays up', async () => {
    await check('api', fc.asyncProperty(request, apiHolds));
    const after = await exchange('GET /v1/services HTTP/1.1\r\nhost: keel\r\nconnection: close\r\n\r\n');
    expect(after).toMatch(/^HTTP\/1\.1 200 /);
  }, TIME_MS + 60_000);
});
