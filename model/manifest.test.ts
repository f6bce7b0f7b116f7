import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { problemsOf } from '../test/helpers/manifest-text.js';
import { jsonSchema, manifestWarnings, normalizedJson, parseManifest } from './index.js';
import { parseDuration } from './duration.js';

const problems = (text: string) => problemsOf(() => parseManifest(text, 'keel.yml'));

describe('manifest validation', () => {
  it('accepts an empty manifest and fills in defaults', () => {
    const m = parseManifest('', 'keel.yml');
    expect(m.onboot).toEqual([]);
    expect(m.services).toEqual([]);
    expect(m.files).toEqual([]);
    expect(m.shutdown.grace).toBe(5000);
  });

  it('accepts a LinuxKit-style kernel and files section', () => {
    const m = parseManifest(
      `kernel:\n  image: linux-image-6.1.0-50-amd64\n  cmdline: "console=ttyS0"\nfiles:\n  - path: etc/motd\n    contents: hi\n    mode: "0644"\n  - path: etc/link\n    symlink: motd\nhostname: box-1\nshutdown:\n  grace: 1m30s\n`,
      'keel.yml',
    );
    expect(m.kernel).toEqual({ image: 'linux-image-6.1.0-50-amd64', cmdline: 'console=ttyS0', modules: [] });
    expect(m.files[0]).toMatchObject({ path: 'etc/motd', contents: 'hi', mode: 0o644, uid: 0, gid: 0 });
    expect(m.hostname).toBe('box-1');
    expect(m.shutdown.grace).toBe(90_000);
  });

  it.each([
    ['hostname: "bad_name!"', 'keel.yml:1:11: hostname: "bad_name!" is not a hostname'],
    ['hostnme: x', 'keel.yml:1:1: hostnme: unknown field; did you mean "hostname"?'],
    ['shutdown:\n  grace: soon', 'keel.yml:2:10: shutdown.grace: "soon" is not a duration'],
    ['files:\n  - contents: x', 'keel.yml:2:5: files[0].path: is required'],
    ['files:\n  - path: a\n    mode: "0999"', 'keel.yml:3:11: files[0].mode: "0999" is not a file mode'],
    ['files:\n  - path: a\n    contents: x\n    directory: true', 'keel.yml:2:5: files[0]: give only one of contents, source, directory: true, symlink, or metadata'],
    ['files:\n  - path: ../etc/x', 'files[0]: path "../etc/x" must not contain ".."'],
    ['files:\n  - path: x\n    metadata: toml', 'files[0].metadata: "toml" is not one of yaml, json'],
    ['files:\n  - path: x\n    metadata: yaml\n    contents: hi', 'files[0]: give only one of contents, source, directory: true, symlink, or metadata'],
    ['services:\n  - name: a\n    image: "busybox:1 "', 'services[0].image: "busybox:1 ": white space at its end; remove it (expected an image reference such as alpine:3.20, or a path)'],
    ['services:\n  - name: a\n    image: "Alpine:3.20"', 'services[0].image: "Alpine:3.20": an image reference\'s name is lower case ("alpine"); a folder here is written ./Alpine:3.20 (expected an image reference such as alpine:3.20, or a path)'],
    ['onboot:\n  - name: a\n    image: "@pkg:../pkg/getty"', 'onboot[0].image: "@pkg:../pkg/getty": "@pkg:../pkg/getty" asks LinuxKit to build a package from its source, which keel does not do; build it with "linuxkit pkg build ../pkg/getty" and name the image it makes'],
    ['services:\n  - name: a\n    image: /i\n    dependsOn: [b]\n  - name: b\n    image: /i\n    dependsOn: [{name: a, condition: started}]', 'services: dependency cycle: a -> b -> a'],
    ['services:\n  - name: a\n    image: /i\n    dependsOn: [nope]', 'services: a: dependsOn names "nope", which is not a service in this manifest'],
    ['services:\n  - name: a\n    image: /i\n    restart: sometimes', 'services[0].restart: "sometimes": not a restart policy (expected one of no, on-failure[:N], always, unless-stopped)'],
    ['services:\n  - name: a\n    image: /i\n    stopSignal: SIGNOPE', 'services[0].stopSignal: "SIGNOPE": not a signal name'],
    ['services:\n  - name: a\n    image: /i\n    watchdogSec: 5s', 'services: a: watchdogSec needs notify: true'],
    ['services: 3', 'services: 3 is not a list'],
    ['console:\n  access: password', 'console: access: password needs a password hash; make one with "keel password"'],
    ['console:\n  access: password\n  password: hunter2', 'console.password: "hunter2": not a hash from "keel password"'],
    ['hostname: a\nhostname: b', 'keel.yml:2:1: hostname: is given twice in the same mapping'],
    ['- a list', 'keel.yml:1:1: (top level): a list is not a mapping'],
    ['services:\n  - name: a\n    image: /i\n    binds: [data:/data]', 'a: binds "data:/data" names the volume "data", which the volumes section does not define'],
    ['volumes:\n  - name: v\n  - name: v', 'volumes: the name "v" is used twice'],
    ['volumes:\n  - name: v\n    format: tar', 'keel.yml:3:13: volumes[0].format: "tar" is not one of filesystem, oci'],
    ['services:\n  - name: a\n    image: /i\n    binds: ["rel/dir:/x"]', 'services[0].binds[0]'],
    ['services:\n  - name: a\n    image: /i\n    rlimits: ["nofile,unlimited,100"]', 'services[0].rlimits[0]: "nofile,unlimited,100": the soft limit is above the hard limit'],
  ])('rejects %j with a message naming file, line and field', (text, expected) => {
    const found = problems(text);
    expect(found.some((p) => p.includes(expected)), `got:\n${found.join('\n')}`).toBe(true);
  });

  it('reports every problem, not just the first', () => {
    expect(problems('hostname: 1.\nshutdown:\n  grace: x\nfoo: 1')).toHaveLength(3);
  });

  it("takes LinuxKit's resources spellings and fields: blockio for blockIO, devices rules, network, memory.kernel (said to be ignored)", () => {
    const svc = (resources: string) => `services:\n  - name: a\n    image: /i\n    resources: ${resources}\n`;
    const lk = parseManifest(svc('{blockio: {weight: 300}, devices: [{allow: true, type: c, major: 1, minor: 11, access: m}], network: {classID: 7}, memory: {kernel: 64m, kernelTCP: 1m}}'), 'keel.yml');
    expect(lk.services[0]!.resources).toMatchObject({ blockIO: { weight: 300 }, devices: [{ allow: true, type: 'c', major: 1, minor: 11, access: 'm' }], network: { classID: 7 } });
    expect(lk.services[0]!.resources).not.toHaveProperty('blockio');
    expect(parseManifest(normalizedJson(lk), 'manifest.json')).toEqual(lk);
    expect(manifestWarnings(lk).map((w) => `${w.field}: ${w.message}`)).toEqual([
      'services[0].resources.memory.kernel: ignored: the kernel has no separate kernel memory limit on cgroup v2 (kernel memory counts toward memory.limit); remove it',
      'services[0].resources.memory.kernelTCP: ignored: the kernel has no separate kernel memory limit on cgroup v2 (kernel memory counts toward memory.limit); remove it',
      "services[0].resources.network: net_cls and net_prio exist only on cgroup v1: in keel's VMs (cgroup v2) runc ignores this",
    ]);
    expect(problems(svc('{blockio: {weight: 300}, blockIO: {weight: 300}}')).join('\n')).toContain("services[0].resources: both blockIO and blockio (LinuxKit's spelling of the same): keep one");
    expect(problems(svc('{devices: [{allow: true, access: rwx}]}')).join('\n')).toContain('services[0].resources.devices[0].access: "rwx": not some of r, w and m');
    expect(problems(svc('{hugepageLimits: [{pageSize: 2097152, limit: 1}]}')).join('\n')).toContain("services[0].resources.hugepageLimits: keel's VMs do not enable the hugetlb cgroup controller");
    expect(problems('services:\n  - name: a\n    image: /i\n    mounts: [{type: bind, source: /d, destination: /d, uidmappings: [{containerID: 0, hostID: 1000, size: 1}]}]\n').join('\n')).toContain('services[0].mounts[0].uidmappings: an idmapped mount needs runc 1.2 or later');
  });

  it('says which resources a process entry names that its own cgroup does not set', () => {
    const m = parseManifest('services:\n  - name: p\n    kind: process\n    command: [x]\n    resources: {memory: {limit: 64m, swappiness: 10}, pids: {limit: 9}, network: {classID: 1}}\n', 'keel.yml');
    expect(manifestWarnings(m).map((w) => w.field)).toEqual(['services[0].resources.memory.swappiness', 'services[0].resources.network']);
    expect(manifestWarnings(m)[0]!.message).toMatch(/^not applied to a process entry, whose cgroup takes only memory\.limit, .*; remove it, or run the entry as a container$/);
    const alone = parseManifest('services:\n  - name: p\n    kind: process\n    command: [x]\n    resources: {memory: {swap: 64m}, cpu: {period: 50000}}\n', 'keel.yml');
    expect(manifestWarnings(alone).map((w) => w.field)).toEqual(['services[0].resources.memory.swap (without memory.limit)', 'services[0].resources.cpu.period (without cpu.quota)']);
  });

  it('warns that a read-write bind of a read-only volume is bound read-only, where LinuxKit refuses it', () => {
    const m = parseManifest('volumes:\n  - name: v\n    readonly: true\nservices:\n  - name: a\n    image: /i\n    binds: [v:/v, "v:/w:ro"]\n', 'keel.yml');
    expect(manifestWarnings(m)).toEqual([{ field: 'services[0].binds', message: 'v:/v: the volume v is read-only, so keel binds it read-only; add :ro to say so (LinuxKit refuses a read-write bind of a read-only volume)' }]);
  });

  it("says in one line that a LinuxKit package's build.yml is not an image manifest", () => {
    expect(problems('image: getty\norg: linuxkit\narches: [amd64]\nconfig: {pid: host}\n')).toEqual([
      'keel.yml: this is a LinuxKit package\'s build.yml (image, org, arches, config), which "linuxkit pkg build" reads to make one image, not an image manifest; keel builds from manifests with kernel, init, onboot and services, and takes the package\'s image by name in one of them',
    ]);
  });

  it('round-trips through the normalized JSON unchanged', () => {
    const m = parseManifest('files:\n  - path: etc/a\n    contents: x\n    mode: 0644\nshutdown:\n  grace: 1500ms\n', 'keel.yml');
    const json = normalizedJson(m);
    expect(JSON.parse(json).format).toBe('keel-manifest/1');
    expect(parseManifest(json, 'manifest.json')).toEqual(m);
  });

  it('parses compact forms once into typed values, and writes them back so they read the same', () => {
    const text = [
      'services:',
      '  - name: db',
      '    image: /i',
      '  - name: web',
      '    image: /i',
      '    restart: on-failure:3',
      '    dependsOn: [db, {name: db2, condition: started}]',
      '    binds: ["/srv:/srv", "/etc/x:/x:ro"]',
      '    tmpfs: ["/run:size=1m"]',
      '    rlimits: ["nofile,100,unlimited"]',
      '    capabilities: [net_admin, CAP_SYS_TIME]',
      '    resources: {memory: {limit: 64m}}',
      '    logs: {bytes: 1k}',
      '  - name: db2',
      '    image: /i',
    ].join('\n');
    const m = parseManifest(text, 'keel.yml');
    const web = m.services[1]!;
    expect(web.restart).toEqual({ policy: 'on-failure', maxRetries: 3 });
    expect(m.services[0]!.restart).toEqual({ policy: 'always' });
    expect(web.dependsOn).toEqual([{ name: 'db', condition: 'ready' }, { name: 'db2', condition: 'started' }]);
    expect(web.binds).toEqual([
      { source: '/srv', destination: '/srv', options: ['rw', 'rbind', 'rshared'] },
      { source: '/etc/x', destination: '/x', options: ['ro', 'rbind'] },
    ]);
    expect(web.tmpfs).toEqual([{ destination: '/run', options: ['size=1m'] }]);
    expect(web.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', soft: 100, hard: -1 }]);
    expect(web.capabilities).toEqual(['CAP_NET_ADMIN', 'CAP_SYS_TIME']);
    expect(web.resources?.memory?.limit).toBe(64 * 2 ** 20);
    expect(web.logs).toEqual({ lines: 5000, bytes: 1024, file: false, maxFileSize: 10 << 20, keepFiles: 3 });
    expect(web.backoff).toEqual({ initial: 100, factor: 2, max: 30_000, jitter: 0.1, resetAfter: 10_000 });
    expect(parseManifest(normalizedJson(m), 'manifest.json')).toEqual(m);
  });

  it('refuses a normalized manifest of another format version', () => {
    expect(problems('{"format": "keel-manifest/9"}')[0]).toContain('format: "keel-manifest/9" is not keel-manifest/1');
  });

  it('generates a JSON Schema from the same description', () => {
    const schema = jsonSchema() as { properties: Record<string, { properties?: Record<string, unknown> }> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['kernel', 'files', 'onboot', 'services', 'hostname']));
    expect(schema.properties.files).toBeDefined();
  });
});

describe('LinuxKit manifests', () => {
  const dir = join(import.meta.dirname, '../test/fixtures/linuxkit');
  it.each(readdirSync(dir).filter((f) => f.endsWith('.yml')))('%s, which uses only supported fields, parses unchanged', (file) => {
    expect(() => parseManifest(readFileSync(join(dir, file), 'utf8'), file)).not.toThrow();
  });

  it('reads numbers the way LinuxKit (YAML 1.1) does: 0666 is octal; words stay words', () => {
    const m = parseManifest('console:\n  access: off\nservices:\n  - name: a\n    image: /i\n    devices:\n      - {path: /dev/fuse, type: c, major: 10, minor: 229, mode: 0666}\n', 'keel.yml');
    expect(m.services[0]!.devices?.[0]?.mode).toBe(0o666);
    expect(m.console.access).toBe('off');
  });

  it('reads a mode written as plain digits as LinuxKit does, in octal: 755 is 0755, not the number 755', () => {
    const m = parseManifest('files:\n  - {path: etc/a, contents: x, mode: 755}\n  - {path: etc/b, contents: x, mode: 0755}\n  - {path: etc/c, contents: x, mode: "755"}\n  - {path: etc/d, contents: x, mode: 0o755}\n', 'keel.yml');
    expect(m.files.map((f) => f.mode)).toEqual([0o755, 0o755, 0o755, 0o755]);
  });

  it('keeps kernel images, init images and volumes', () => {
    const m = parseManifest(readFileSync(join(dir, 'server.yml'), 'utf8'), 'server.yml');
    expect(m.kernel).toMatchObject({ image: 'linuxkit/kernel:6.6.71', binary: 'bzImage', tar: 'kernel.tar' });
    expect(m.init).toHaveLength(4);
    const v = parseManifest(readFileSync(join(dir, 'volumes.yml'), 'utf8'), 'volumes.yml');
    expect(v.volumes).toEqual([
      { name: 'vola', image: 'alpine:3.20', readonly: false, format: 'filesystem' },
      { name: 'volb', readonly: true, format: 'filesystem' },
      { name: 'volc', readonly: false, format: 'filesystem' },
    ]);
  });
});

describe('durations', () => {
  it.each([
    ['100ms', 100],
    ['2s', 2000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['1h', 3_600_000],
    [3, 3000],
    ['10', 10_000],
    // Past what one Node timer can wait (2^31-1 ms, about 24.8 days): these must still mean what they say.
    ['600h', 2_160_000_000],
    ['8760h', 31_536_000_000],
  ])('%j is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 'soon', '5 s', '-1s', '1x', -2, 1e308, Infinity, NaN, '1e308', '99999999999999999999h', '876001h'])('%j is not a duration', (text) => expect(parseDuration(text)).toBeUndefined());

  it('names the limit when it refuses one', () => {
    expect(problems('shutdown:\n  grace: 1e308').join('\n')).toContain('shutdown.grace: 1e+308 is not a duration such as "100ms", "2s", "1m30s" or a number of seconds, at most 100 years');
  });
});
