// Image sources for keel build, with a real Docker engine: references the
// engine has (loaded from archives made here, since this machine has no
// registry), `docker save` archives and OCI layouts on disk; whiteouts, the
// image config and label, images unpacked once, and keel.lock.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { containerId } from '../runtime/bundle.js';
import { cacheDir } from '../pkg/image/cache.js';
import { dockerArchive, dockerAvailable, dockerLoad, initrdFile, initrdList, ociLayout, type ImageSpec } from './helpers/images.js';
import { DIST, requireDist, startKeel, type KeelNs } from './helpers/keel-ns.js';

// Image names unique to this run: two checkouts testing at once must not retag each other's images.
const T = `keel-test-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'keel-images-'));
// A cache of its own, so every run really unpacks; the downloaded kernels are shared.
const cache = join(dir, 'cache');
mkdirSync(cache);
symlinkSync(join(cacheDir(), 'kernels'), join(cache, 'kernels'));
let keelNs: KeelNs | undefined;
afterEach(() => {
  keelNs?.cleanup();
  keelNs = undefined;
});
const loaded: string[] = [];
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  spawnSync('docker', ['rmi', '-f', ...loaded], { stdio: 'ignore' });
});

/**
 * keel with this file's own cache. Its builds compress with lz4: what these
 * tests look at is the images' files, and zstd -19 of node into an empty
 * cache takes minutes on a loaded two-core machine (cli-build.test.ts covers
 * the default compression).
 */
function keel(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  if (args[0] === 'build' && !args.includes('--compress')) args = ['build', '--compress', 'lz4', ...args.slice(1)];
  const r = spawnSync(process.execPath, [join(DIST, 'keel.js'), ...args], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, KEEL_CACHE: cache, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

const LABEL = JSON.stringify({ command: ['/bin/busybox', 'sh', '-c', 'echo label-ran FROM_IMAGE=$FROM_IMAGE; cat /etc/replaced'] });

// Two layers: the second deletes a file, empties a directory and replaces a file.
const layered = (env: string): ImageSpec => ({
  layers: [
    { files: { 'bin/busybox': 'busybox', 'etc/gone': 'x', 'opt/keep/a': 'a', 'opt/keep/b': 'b', 'etc/replaced': 'old' } },
    { whiteouts: ['etc/gone'], opaque: ['opt/keep'], files: { 'opt/keep/c': 'c', 'etc/replaced': 'new', 'etc/added': 'added' } },
  ],
  // The run's label makes the id this run's own: the clean-up removes images by id, and another
  // checkout's run would otherwise lose an image of the same content under its own tag.
  config: { Env: ['PATH=/bin', `FROM_IMAGE=${env}`], Cmd: ['/bin/busybox', 'sleep', '1000'], Labels: { 'org.mobyproject.config': LABEL, 'keel.test.run': T } },
});

let idA: string;

beforeAll(() => {
  requireDist();
  if (!dockerAvailable()) throw new Error('no Docker engine: start dockerd (make deps and .ci/run do)');
  idA = dockerArchive(dir, join(dir, 'a.tar'), `${T}/layers:1`, layered('1'));
  dockerLoad(join(dir, 'a.tar'));
  loaded.push(idA);
});

/** The one /images/NAME directory a built initrd holds, checked for the layered image's content. */
function checkLayered(initrd: string): string {
  const files = initrdList(initrd);
  const images = files.filter((f) => /^images\/[^/]+\/keel-image\.json$/.test(f));
  expect(images).toHaveLength(1); // named by several entries, stored once
  const at = images[0]!.replace('/keel-image.json', '');
  expect(files).toEqual(expect.arrayContaining([`${at}/rootfs/etc/added`, `${at}/rootfs/opt/keep/c`, `${at}/rootfs/bin/busybox`]));
  expect(files).not.toContain(`${at}/rootfs/etc/gone`); // whiteout
  expect(files).not.toContain(`${at}/rootfs/opt/keep/a`); // opaque directory
  expect(files.some((f) => f.includes('.wh.'))).toBe(false);
  expect(initrdFile(initrd, `${at}/rootfs/etc/replaced`)).toBe('new');
  return at;
}

describe('images from a Docker engine', () => {
  it('unpacks each image once, honours whiteouts, layers init images into the root, and locks the id', () => {
    writeFileSync(
      join(dir, 'eng.yml'),
      `init:\n  - ${T}/layers:1\nonboot:\n  - name: one\n    image: ${T}/layers:1\n    command: [/bin/busybox, "true"]\n` +
        `services:\n  - name: two\n    image: ${T}/layers:1\n`,
    );
    const r = keel(['build', '-o', join(dir, 'e1'), join(dir, 'eng.yml')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`wrote ${join(dir, 'eng.lock')}`);
    const initrd = join(dir, 'e1/eng-initrd.img');
    const at = checkLayered(initrd);
    expect(at).toBe(`images/${idA.slice(7, 19)}`);
    // init: the image's files are in the root too, but keel's own /init stays.
    expect(initrdFile(initrd, 'etc/added')).toBe('added');
    expect(initrdFile(initrd, 'init')).toContain('keel-init.cjs');
    const manifest = JSON.parse(initrdFile(initrd, 'etc/keel/manifest.json')) as { onboot: Array<{ image: string }>; services: Array<{ image: string }> };
    expect([manifest.onboot[0]!.image, manifest.services[0]!.image]).toEqual([`/${at}`, `/${at}`]);
    expect(JSON.parse(initrdFile(initrd, `${at}/keel-image.json`))).toEqual({
      cmd: ['/bin/busybox', 'sleep', '1000'],
      env: ['PATH=/bin', 'FROM_IMAGE=1'],
      labels: { 'org.mobyproject.config': LABEL, 'keel.test.run': T },
    });
    expect(JSON.parse(readFileSync(join(dir, 'eng.lock'), 'utf8'))).toEqual({ format: 'keel-lock/1', arch: 'amd64', images: { [`${T}/layers:1`]: { id: idA } } });

    // The tag moves to another image: the build says so and names the fix, instead of using the old one silently.
    const idB = dockerArchive(dir, join(dir, 'b.tar'), `${T}/layers:1`, layered('2'));
    dockerLoad(join(dir, 'b.tar'));
    loaded.push(idB);
    const moved = keel(['build', '-o', join(dir, 'e2'), join(dir, 'eng.yml')]);
    expect(moved.status).toBe(1);
    expect(moved.stderr).toContain(`eng.yml:2:5: init[0]: ${T}/layers:1 is now ${idB.slice(0, 19)}… in the Docker engine, but keel.lock pins ${idA.slice(0, 19)}…`);
    expect(moved.stderr).toContain('fix: rebuild with --update-lock');
    expect(existsSync(join(dir, 'e2/eng-initrd.img'))).toBe(false);
    // With the tag back on the pinned image, the lock gives the same bytes as before.
    expect(spawnSync('docker', ['tag', idA, `${T}/layers:1`]).status).toBe(0);
    const again = keel(['build', '-o', join(dir, 'e2'), join(dir, 'eng.yml')]);
    expect(again.status).toBe(0);
    expect(again.stdout).not.toContain('wrote');
    expect(sha(join(dir, 'e2/eng-initrd.img'))).toBe(sha(initrd));
    expect(spawnSync('docker', ['tag', idB, `${T}/layers:1`]).status).toBe(0);
    // --update-lock takes what the tag names now.
    const updated = keel(['build', '--update-lock', '-o', join(dir, 'e3'), join(dir, 'eng.yml')]);
    expect(updated.status, updated.stderr).toBe(0);
    expect(readFileSync(join(dir, 'eng.lock'), 'utf8')).toContain(idB);
    expect(initrdList(join(dir, 'e3/eng-initrd.img'))).toContain(`images/${idB.slice(7, 19)}/keel-image.json`);
  }, 240_000); // three whole builds: slow on a loaded machine

  it('refuses a lock that pins an image the engine does not have, saying how to fix it', () => {
    writeFileSync(join(dir, 'pinned.yml'), `services:\n  - name: s\n    image: ${T}/layers:1\n`);
    writeFileSync(join(dir, 'pinned.lock'), JSON.stringify({ format: 'keel-lock/1', images: { [`${T}/layers:1`]: { id: `sha256:${'ab'.repeat(32)}` } } }));
    const r = keel(['build', '-o', join(dir, 'p'), join(dir, 'pinned.yml')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/pinned\.yml:\d+:\d+: services\[0\] \(s\): keel\.lock pins keel-test-\d+\/layers:1 to sha256:abab.*which the Docker engine does not have\n\s+fix: .*--update-lock/);
  });

  it('keeps the engine\'s reason for each image it cannot pull, and says what to do once, after the last', () => {
    writeFileSync(join(dir, 'unpulled.yml'), `onboot:\n  - name: a\n    image: ${T}/not-here:1\nservices:\n  - name: b\n    image: ${T}/not-here-either:1\n`);
    const r = keel(['build', '-o', join(dir, 'unpulled-out'), join(dir, 'unpulled.yml')]);
    expect(r.status).toBe(1);
    const reason = '\\S(.*\\S)?'; // whatever the engine said, without a space at either end
    expect(r.stderr.split('\n').filter((l) => !/^image \d+ of \d+: /.test(l))).toEqual([
      expect.stringMatching(new RegExp(`^keel: \\S*unpulled\\.yml:3:12: onboot\\[0\\] \\(a\\): image ${T}/not-here:1 is not in the Docker engine and pulling it failed: ${reason}$`)),
      expect.stringMatching(new RegExp(`^\\S*unpulled\\.yml:6:12: services\\[0\\] \\(b\\): image ${T}/not-here-either:1 is not in the Docker engine and pulling it failed: ${reason}$`)),
      '  fix: where there is network, "docker pull" the image and "docker save -o FILE" it, then "docker load -i FILE" here;',
      '  or set image: to a "docker save" archive, an OCI layout or a directory',
      '',
    ]);
  });

  it('resolves kernel.image in the same pass as the other images, reports it at its place, and counts each image once', () => {
    const manifest = (kernel: string) =>
      `${kernel}onboot:\n  - name: a\n    image: ${T}/not-here:1\nservices:\n  - name: b\n    image: ${T}/not-here:1\n  - name: c\n    image: ./a.tar\n`;
    writeFileSync(join(dir, 'nokernel.yml'), manifest(`kernel:\n  image: ${T}/no-kernel:1\n`));
    const r = keel(['build', '-o', join(dir, 'nokernel-out'), join(dir, 'nokernel.yml')]);
    expect(r.status).toBe(1);
    // Three images, one of them named twice: each counted once, out of three.
    expect(r.stderr.split('\n').filter((l) => /^image \d+ of \d+: /.test(l))).toEqual([`image 1 of 3: ${T}/no-kernel:1`, `image 2 of 3: ${T}/not-here:1`, 'image 3 of 3: ./a.tar']);
    const problems = r.stderr.slice(r.stderr.indexOf('keel: ')).split('\n');
    expect(problems[0]).toMatch(new RegExp(`^keel: \\S*nokernel\\.yml:2:10: kernel\\.image: image ${T}/no-kernel:1 is not in the Docker engine and pulling it failed: \\S`));
    const fallback = /^ {2}kernel\.image may also be left out: keel then boots its default Debian kernel \((linux-image-\S+)\)$/.exec(problems[1]!);
    expect(fallback, r.stderr).not.toBeNull();
    // The image named twice fails at both places, for the same reason.
    const place = /^\S*nokernel\.yml:(\d+:\d+: \w+\[0\] \(\w\)): (image .*not-here:1 is not in the Docker engine and pulling it failed: .*)$/;
    const [a, b] = problems.slice(2, 4).map((l) => place.exec(l)?.slice(1));
    expect([a?.[0], b?.[0]], r.stderr).toEqual(['5:12: onboot[0] (a)', '8:12: services[0] (b)']);
    expect(b?.[1]).toBe(a?.[1]);
    // What it says holds: without kernel.image (the other images loadable), the build boots that kernel.
    writeFileSync(join(dir, 'nokernel.yml'), `services:\n  - name: c\n    image: ./a.tar\n`);
    const without = keel(['build', '-o', join(dir, 'nokernel-out'), join(dir, 'nokernel.yml')]);
    expect(without.status, without.stderr).toBe(0);
    expect(without.stdout).toContain(`(kernel ${fallback![1]}, node `);
  });

  it.each([
    ['a reference the engine lacks and cannot pull', `services:\n  - name: s\n    image: ${T}/not-here:1\n`, {}, /services\[0\] \(s\): image keel-test-\d+\/not-here:1 is not in the Docker engine and pulling it failed/],
    ['no engine at DOCKER_HOST', `services:\n  - name: s\n    image: ${T}/layers:1\n`, { DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, /cannot reach the Docker engine at unix:\/\/\/nonexistent\/docker\.sock[\s\S]*fix: start it/],
    ['an archive path that does not exist', 'services:\n  - name: s\n    image: ./missing.tar\n', {}, /services\[0\] \(s\): image \.\/missing\.tar: .*missing\.tar does not exist/],
    ['a name the archive does not hold', `services:\n  - name: s\n    image: ./a.tar#${T}/other:1\n`, {}, /no image tagged keel-test-\d+\/other:1 in the archive; it has keel-test-\d+\/layers:1/],
    ['something that is no reference', 'services:\n  - name: s\n    image: "not a ref!"\n', {}, /image "not a ref!" is neither an existing path .* nor an image reference/],
  ])('refuses %s with a clear error', (_what, manifest, env, message) => {
    writeFileSync(join(dir, 'bad.yml'), manifest);
    rmSync(join(dir, 'bad.lock'), { force: true });
    const r = keel(['build', '-o', join(dir, 'bad-out'), join(dir, 'bad.yml')], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'bad.lock'))).toBe(false); // a failed build records nothing
  });
});

describe('images without a daemon', () => {
  it('takes docker save archives and OCI layouts (gzip layers too), and one image used by both is stored once', () => {
    ociLayout(dir, join(dir, 'layout'), 'app', layered('1'));
    writeFileSync(
      join(dir, 'files.yml'),
      'onboot:\n  - name: fromtar\n    image: ./a.tar\n    command: [/bin/busybox, "true"]\nservices:\n  - name: fromlayout\n    image: ./layout#app\n',
    );
    const r = keel(['build', '-o', join(dir, 'f'), join(dir, 'files.yml')], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    expect(r.status, r.stderr).toBe(0);
    // The same config (the layout's gzip layer has the same diff_id) is the same image.
    expect(checkLayered(join(dir, 'f/files-initrd.img'))).toBe(`images/${idA.slice(7, 19)}`);
    expect(JSON.parse(readFileSync(join(dir, 'files.lock'), 'utf8')).images).toEqual({ './a.tar': { id: idA }, './layout#app': { id: idA } });
  });

  it('unpacks an OCI layout by itself, gzip layer included', () => {
    const idC = ociLayout(dir, join(dir, 'layout3'), 'three', layered('3'));
    writeFileSync(join(dir, 'oci.yml'), 'services:\n  - name: s\n    image: ./layout3#three\n');
    expect(keel(['build', '-o', join(dir, 'o'), join(dir, 'oci.yml')]).status).toBe(0);
    expect(checkLayered(join(dir, 'o/oci-initrd.img'))).toBe(`images/${idC.slice(7, 19)}`);
  });
});

describe('pulling from a registry', () => {
  // Debian's docker-registry on loopback: the engine treats 127.0.0.0/8 as an insecure registry by default.
  let registry: ChildProcess | undefined;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const ref = `127.0.0.1:${port}/${T}/pulled:1`;
  afterAll(() => registry?.kill());

  it('pulls a missing image with progress on a terminal, locks its registry digest, and pulls that digest again when the image is gone', async () => {
    const regDir = join(dir, 'registry');
    mkdirSync(regDir);
    writeFileSync(join(regDir, 'config.yml'), `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${regDir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`);
    registry = spawn('docker-registry', ['serve', join(regDir, 'config.yml')], { stdio: 'ignore' });
    const id = dockerArchive(dir, join(dir, 'p.tar'), ref, layered('pulled'));
    dockerLoad(join(dir, 'p.tar'));
    for (let i = 0; spawnSync('docker', ['push', ref], { stdio: 'ignore' }).status !== 0; i++) {
      if (i > 50) throw new Error(`docker push ${ref} kept failing`);
      await new Promise((r) => setTimeout(r, 200)); // the registry is still starting
    }
    const gone = () => expect(spawnSync('docker', ['rmi', '-f', id], { encoding: 'utf8' }).status).toBe(0);
    gone();
    writeFileSync(join(dir, 'pull.yml'), `services:\n  - name: s\n    image: ${ref}\n`);
    // Under a terminal (script(1) gives it one), the progress line is redrawn in place.
    const r = spawnSync('script', ['-qec', `KEEL_CACHE='${cache}' '${process.execPath}' '${join(DIST, 'keel.js')}' build --compress lz4 -o '${join(dir, 'pull-out')}' '${join(dir, 'pull.yml')}'`, '/dev/null'], { encoding: 'utf8', timeout: 180_000 });
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/\r\x1b\[Kimage 1 of 1: pulling 127\.0\.0\.1:\d+\/keel-test-\d+\/pulled:1: \d+\/\d+ layers/);
    expect(r.stdout).toContain(`pulled ${ref}`);
    const lock = JSON.parse(readFileSync(join(dir, 'pull.lock'), 'utf8')) as { images: Record<string, { id: string; repoDigest: string }> };
    expect(lock.images[ref]).toEqual({ id, repoDigest: expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1:${port}/${T}/pulled@sha256:[0-9a-f]{64}$`)) });
    const first = sha(join(dir, 'pull-out/pull-initrd.img'));
    // The image leaves the engine; the lock's digest brings the same one back.
    gone();
    const again = keel(['build', '-o', join(dir, 'pull-out2'), join(dir, 'pull.yml')]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain(`pulled ${lock.images[ref]!.repoDigest}`);
    expect(sha(join(dir, 'pull-out2/pull-initrd.img'))).toBe(first);
    loaded.push(id);
  }, 300_000);
});

describe('kernels', () => {
  const pkgRoot = join(cacheDir(), 'kernels', 'linux-image-6.1.0-50-amd64');

  it('takes a LinuxKit-style kernel image from the engine: kernel, modules from kernel.tar, microcode in front', () => {
    const release = readdirSync(join(pkgRoot, 'lib/modules'))[0]!;
    const vmlinuz = readFileSync(join(pkgRoot, 'boot', `vmlinuz-${release}`));
    // kernel.tar holds just what keel loads, to keep the image small.
    const stage = join(dir, 'kstage');
    const mods = `lib/modules/${release}`;
    const wanted = ['modules.builtin', ...spawnSync('sh', ['-c', `cd '${pkgRoot}' && find ${mods}/kernel -name '*.ko' | grep -E '/(virtio|virtio_ring|virtio_pci|virtio_pci_legacy_dev|virtio_pci_modern_dev|virtio_net|net_failover|failover|virtio_blk|virtio_console|virtio-rng|vsock|vmw_vsock_virtio_transport_common|vmw_vsock_virtio_transport|overlay|veth|bridge|stp|llc|evdev|button)\\.ko$'`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map((f) => f.slice(mods.length + 1))];
    spawnSync('sh', ['-c', `mkdir -p '${stage}' && cd '${pkgRoot}' && tar -cf '${stage}/kernel.tar' ${wanted.map((w) => `'${mods}/${w}'`).join(' ')}`]);
    const ucode = Buffer.from('070701-not-really-microcode');
    const id = dockerArchive(dir, join(dir, 'kimg.tar'), `${T}/kernel:1`, {
      layers: [{ files: { bzImage: vmlinuz, 'kernel.tar': readFileSync(join(stage, 'kernel.tar')), 'ucode.cpio': ucode } }],
      config: { Labels: { 'keel.test.run': T } },
    });
    dockerLoad(join(dir, 'kimg.tar'));
    loaded.push(id);
    writeFileSync(join(dir, 'kimg.yml'), `kernel:\n  image: ${T}/kernel:1\n  binary: bzImage\n  ucode: ucode.cpio\n  cmdline: console=ttyS0\n`);
    const r = keel(['build', '-o', join(dir, 'k'), join(dir, 'kimg.yml')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`(kernel ${T}/kernel:1, node `);
    expect(sha(join(dir, 'k/kimg-kernel'))).toBe(createHash('sha256').update(vmlinuz).digest('hex'));
    const initrd = readFileSync(join(dir, 'k/kimg-initrd.img'));
    expect(initrd.subarray(0, ucode.length).equals(ucode)).toBe(true);
    // What follows the microcode is the compressed initramfs (lz4's legacy frame here), with the modules from kernel.tar.
    expect(initrd.readUInt32LE(ucode.length)).toBe(0x184c2102);
    writeFileSync(join(dir, 'k/rest.lz4'), initrd.subarray(ucode.length));
    const list = initrdList(join(dir, 'k/rest.lz4'));
    expect(list).toEqual(expect.arrayContaining([`${mods}/kernel/drivers/virtio/virtio_pci.ko`, `${mods}/kernel/fs/overlayfs/overlay.ko`]));
    expect(initrdFile(join(dir, 'k/rest.lz4'), 'etc/keel/modules')).toContain('virtio_console.ko');
    expect(JSON.parse(readFileSync(join(dir, 'kimg.lock'), 'utf8')).images[`${T}/kernel:1`].id).toBe(id);
  });

  it('counts kernel.image among the images: image 1 of 2, then image 2 of 2', () => {
    writeFileSync(join(dir, 'kcount.yml'), `kernel:\n  image: ${T}/kernel:1\n  binary: bzImage\n  ucode: ucode.cpio\nservices:\n  - name: s\n    image: ./a.tar\n`);
    const r = keel(['build', '-o', join(dir, 'kc'), join(dir, 'kcount.yml')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => /^image \d+ of \d+: /.test(l))).toEqual([`image 1 of 2: ${T}/kernel:1`, 'image 2 of 2: ./a.tar']);
  });

  it('takes a kernel .deb path', () => {
    const deb = readdirSync(join(cacheDir(), 'downloads')).find((f) => f.startsWith('linux-image-6.1.0-50-amd64_') && f.endsWith('.deb'));
    expect(deb, 'make deps downloads the pinned kernel package').toBeDefined();
    writeFileSync(join(dir, 'deb.yml'), `kernel:\n  image: ${join(cacheDir(), 'downloads', deb!)}\n`);
    const r = keel(['build', '-o', join(dir, 'd'), join(dir, 'deb.yml')]);
    expect(r.status, r.stderr).toBe(0);
    const release = readdirSync(join(pkgRoot, 'lib/modules'))[0]!;
    expect(sha(join(dir, 'd/deb-kernel'))).toBe(sha(join(pkgRoot, 'boot', `vmlinuz-${release}`)));
    expect(initrdFile(join(dir, 'd/deb-initrd.img'), 'etc/keel/modules')).toContain('virtio_pci.ko');
  });

  it('refuses kernel.binary for a Debian kernel, and names a file missing from a kernel image', () => {
    writeFileSync(join(dir, 'kbad.yml'), 'kernel:\n  binary: bzImage\n');
    expect(keel(['build', '-o', join(dir, 'kb'), join(dir, 'kbad.yml')]).stderr).toMatch(/kernel\.binary applies only when kernel\.image is a kernel image/);
    writeFileSync(join(dir, 'kbad2.yml'), `kernel:\n  image: ${T}/kernel:1\n`);
    const missing = keel(['build', '-o', join(dir, 'kb'), join(dir, 'kbad2.yml')]).stderr;
    expect(missing).toMatch(/kbad2\.yml: kernel\.binary: kernel is not a file in the image keel-test-\d+\/kernel:1\n {2}fix: set kernel\.binary to its path in the image/);
  });
});

describe('volumes', () => {
  it('puts each volume at /volumes/NAME, filled from its image or empty, and rewrites binds by name (read-only ones with ro)', () => {
    writeFileSync(
      join(dir, 'vol.yml'),
      'volumes:\n  - name: data\n  - name: conf\n    image: ./a.tar\n    readonly: true\n' +
        'services:\n  - name: s\n    image: ./a.tar\n    binds: ["data:/data", "conf:/etc/conf"]\n    binds.add: ["/dev:/dev"]\n',
    );
    const r = keel(['build', '-o', join(dir, 'v'), join(dir, 'vol.yml')]);
    expect(r.status, r.stderr).toBe(0);
    const initrd = join(dir, 'v/vol-initrd.img');
    const files = initrdList(initrd);
    expect(files).toEqual(expect.arrayContaining(['volumes/data', 'volumes/conf/etc/added', 'volumes/conf/bin/busybox']));
    expect(files.filter((f) => f.startsWith('volumes/data/'))).toEqual([]);
    const m = JSON.parse(initrdFile(initrd, 'etc/keel/manifest.json')) as { services: Array<{ binds: string[] }> };
    expect(m.services[0]!.binds).toEqual(['/volumes/data:/data:rw,rbind,rshared', '/volumes/conf:/etc/conf:rbind,rshared,ro']);
  });
});

describe('an unpacked image at run time', () => {
  it('runs with its label command and its config env when the manifest says neither', async () => {
    const image = join(cache, 'images', idA.slice(7));
    expect(existsSync(join(image, 'keel-image.json'))).toBe(true);
    keelNs = startKeel(`onboot:\n  - name: lab\n    image: ${image}\n`);
    await keelNs.waitFor(/boot complete/, 60_000);
    const log = readFileSync(join(keelNs.dir, 'state', 'logs', `${containerId('onboot', 'lab')}.log`), 'utf8');
    expect(log).toContain('label-ran FROM_IMAGE=1');
    expect(log).toContain('new');
  });
});
