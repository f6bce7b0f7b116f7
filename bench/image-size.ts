// Image size: the initramfs keel build makes, as built by default (mixed:
// node in lz4, the rest zstd) and with --compress zstd, gzip and lz4, for an empty manifest, the demo
// (examples/demo.yml) and the boot benchmark's OS (bench/fixtures/services.yml).
// The floor for the last (busybox, runc, the same containers; bench/lib/floor.ts)
// shows what keel's own parts cost: node, keel's bundles and the modules.
// Also what stripping took off the image's node.
//
//   node bench/run.mjs image-size
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archBoot } from '../pkg/image/arch.js';
import { compress, COMPRESSIONS, DEFAULT_COMPRESSION, type Compression } from '../pkg/image/initrd.js';
import { imageNode, packagedNode } from '../pkg/image/node-binary.js';
import { hostArch } from '../pkg/image/arch.js';
import { DIST } from '../test/helpers/keel-ns.js';
import { initrdCpio } from '../test/helpers/initrd.js';
import { ensureBusyboxRootfs } from './lib/busybox-rootfs.js';
import { runBench, track } from './lib/cleanup.js';
import { buildFloor } from './lib/floor.js';
import { machine, metric, REPO, writeResult, type Metric } from './lib/results.js';
import { table } from './lib/stats.js';

type Sizes = Record<Compression, number> & { cpio: number; buildS: number };

async function main(): Promise<void> {
  const m = machine();
  const started = Date.now();
  ensureBusyboxRootfs();
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-image-'));
  track(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'empty.yml'), 'kernel:\n  cmdline: "console=ttyS0 quiet"\n');
  const manifests: Record<string, string> = {
    empty: join(dir, 'empty.yml'),
    demo: join(REPO, 'examples/demo.yml'),
    services: join(REPO, 'bench/fixtures/services.yml'),
  };
  const results: Record<string, Sizes> = {};
  const notes: string[] = [];
  for (const [name, path] of Object.entries(manifests)) {
    const sizes: Partial<Sizes> = {};
    for (const c of COMPRESSIONS) {
      const t0 = Date.now();
      const b = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'build', '-o', dir, '--name', `${name}-${c}`, '--compress', c, path], { encoding: 'utf8' });
      if (b.status !== 0) {
        notes.push(`${name} (${path}) did not build: ${b.stderr.trim().split('\n').slice(0, 3).join(' / ')}`);
        console.log(`skipped ${name}: ${b.stderr.trim()}`);
        break;
      }
      const initrd = readFileSync(join(dir, `${name}-${c}-initrd.img`));
      sizes[c] = initrd.length;
      if (c === DEFAULT_COMPRESSION) {
        sizes.cpio = initrdCpio(initrd).length;
        sizes.buildS = Math.round((Date.now() - t0) / 100) / 10;
      }
    }
    if (Object.keys(sizes).length === COMPRESSIONS.length + 2) results[name] = sizes as Sizes;
  }
  const floor = await buildFloor(manifests.services!);
  const floorSizes = { cpio: floor.cpio.length, buildS: NaN } as Sizes;
  for (const c of COMPRESSIONS) floorSizes[c] = (await compress(c, floor.cpio)).length;
  results['floor (services)'] = floorSizes;
  const kernelBytes = results.empty ? statSync(join(dir, `empty-${DEFAULT_COMPRESSION}-kernel`)).size : NaN;

  const MiB = (n: number) => (n / 1048576).toFixed(2);
  const rows = [['initramfs (MiB)', 'cpio', ...COMPRESSIONS.map((c) => (c === DEFAULT_COMPRESSION ? `${c} (default)` : c)), 'build (s)']];
  for (const [name, s] of Object.entries(results)) rows.push([name, MiB(s.cpio), ...COMPRESSIONS.map((c) => MiB(s[c])), String(s.buildS)]);
  console.log('\n' + table(rows));
  console.log(`kernel (not in these numbers): ${MiB(kernelBytes)} MiB`);
  const pkg = packagedNode(archBoot(hostArch()).nodePackage);
  const node = imageNode(hostArch());
  const parts = {
    'node (package)': pkg ? statSync(pkg.path).size : NaN,
    'node (in the image, stripped)': statSync(node.path).size,
    'keel-init.js': statSync(join(DIST, 'keel-init.js')).size,
    'keel.js': statSync(join(DIST, 'keel.js')).size,
  };
  console.log(`keel's largest parts, uncompressed: ${Object.entries(parts).map(([k, v]) => `${k} ${MiB(v)} MiB`).join(', ')} (node from ${node.source})`);

  const svc = results.services;
  const fl = results['floor (services)']!;
  const others = (s: Sizes) => Object.fromEntries(COMPRESSIONS.filter((c) => c !== DEFAULT_COMPRESSION).map((c) => [`--compress ${c}`, +MiB(s[c])]));
  const metrics: Metric[] = [];
  for (const [name, label] of [['empty', 'empty manifest'], ['demo', 'demo']] as const) {
    const r = results[name];
    if (r) metrics.push(metric(`image-${name}`, `Initramfs, ${label}, as built (${DEFAULT_COMPRESSION})`, 'MiB', +MiB(r[DEFAULT_COMPRESSION]), others(r)));
  }
  if (svc) metrics.push(metric('image-services', `Initramfs, boot fixture, as built (${DEFAULT_COMPRESSION})`, 'MiB', +MiB(svc[DEFAULT_COMPRESSION]), { 'floor (busybox + runc), same compression': +MiB(fl[DEFAULT_COMPRESSION]), ...others(svc) }));
  metrics.push(metric('image-node', "The image's node, stripped (uncompressed)", 'MiB', +MiB(parts['node (in the image, stripped)']), { 'node as packaged': +MiB(parts['node (package)']) }));
  writeResult({
    bench: 'image-size',
    machine: m,
    durationS: Math.round((Date.now() - started) / 1000),
    setup: {
      images: 'keel build of an empty manifest (kernel cmdline only), examples/demo.yml and bench/fixtures/services.yml; the floor initramfs for the fixture (busybox, runc + libraries, the same bundles, a shell /init)',
      compression: `keel build --compress ${COMPRESSIONS.join('|')} (${DEFAULT_COMPRESSION} the default: node's binary lz4 -l -9, the rest zstd -19; zstd -19, gzip -9, lz4 -l -9 throughout; each piece of the root compressed on its own and cached); the floor's cpio compressed the same ways`,
      node: `${node.source}, stripped (strip --strip-all) into keel's cache`,
    },
    metrics,
    notes,
    raw: { sizes: results, kernelBytes, parts },
  });
}

runBench(main);
