// Image size: the initramfs keel build makes, as built (gzip -6) and
// recompressed with gzip -9 and zstd -3 and -10, for an empty manifest, the demo
// (examples/demo.yml) and the boot benchmark's OS (bench/fixtures/services.yml).
// The floor for the last (busybox, runc, the same containers; bench/lib/floor.ts)
// shows what keel's own parts cost: node, keel's bundles and the modules.
//
//   node bench/run.mjs image-size
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DIST } from '../test/helpers/keel-ns.js';
import { ensureBusyboxRootfs } from './lib/busybox-rootfs.js';
import { runBench, track } from './lib/cleanup.js';
import { buildFloor } from './lib/floor.js';
import { machine, metric, REPO, writeResult, type Metric } from './lib/results.js';
import { table } from './lib/stats.js';

interface Sizes {
  cpio: number;
  gzipAsBuilt: number;
  gzip9: number;
  zstd3: number;
  zstd10: number;
}

// zstd -19 takes minutes per image on these machines; -10 came within about 1.5 % of -15 on keel's images.
function zstd(data: Buffer, level: number): number {
  const r = spawnSync('zstd', [`-${level}`, '-T0', '-c', '-q'], { input: data, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd failed (apt-get install zstd): ${r.stderr?.toString() ?? r.error?.message}`);
  return r.stdout.length;
}

function sizes(gz: Buffer): Sizes {
  const cpio = gunzipSync(gz);
  return { cpio: cpio.length, gzipAsBuilt: gz.length, gzip9: gzipSync(cpio, { level: 9 }).length, zstd3: zstd(cpio, 3), zstd10: zstd(cpio, 10) };
}

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
    const b = spawnSync(process.execPath, [join(DIST, 'keel.js'), 'build', '-o', dir, '--name', name, path], { encoding: 'utf8' });
    if (b.status !== 0) {
      notes.push(`${name} (${path}) did not build: ${b.stderr.trim().split('\n').slice(0, 3).join(' / ')}`);
      console.log(`skipped ${name}: ${b.stderr.trim()}`);
      continue;
    }
    results[name] = sizes(readFileSync(join(dir, `${name}-initrd.img`)));
  }
  const floor = buildFloor(manifests.services!);
  results['floor (services)'] = sizes(floor.gzip);
  const kernelBytes = results.empty ? statSync(join(dir, 'empty-kernel')).size : NaN;

  const MiB = (n: number) => (n / 1048576).toFixed(2);
  const rows = [['initramfs (MiB)', 'cpio', 'gzip -6 (as built)', 'gzip -9', 'zstd -3', 'zstd -10']];
  for (const [name, s] of Object.entries(results)) rows.push([name, MiB(s.cpio), MiB(s.gzipAsBuilt), MiB(s.gzip9), MiB(s.zstd3), MiB(s.zstd10)]);
  console.log('\n' + table(rows));
  console.log(`kernel (not in these numbers): ${MiB(kernelBytes)} MiB`);
  const parts = { node: statSync(process.execPath).size, 'keel-init.js': statSync(join(DIST, 'keel-init.js')).size, 'keel.js': statSync(join(DIST, 'keel.js')).size };
  console.log(`keel's largest parts, uncompressed: ${Object.entries(parts).map(([k, v]) => `${k} ${MiB(v)} MiB`).join(', ')}`);

  const svc = results.services;
  const fl = results['floor (services)']!;
  const metrics: Metric[] = [];
  for (const [name, label] of [['empty', 'empty manifest'], ['demo', 'demo']] as const) {
    const r = results[name];
    if (!r) continue;
    metrics.push(metric(`image-${name}-gzip`, `Initramfs, ${label}, gzip -6`, 'MiB', +MiB(r.gzipAsBuilt), {}));
    metrics.push(metric(`image-${name}-zstd`, `Initramfs, ${label}, zstd -10`, 'MiB', +MiB(r.zstd10), {}));
  }
  if (svc) {
    metrics.push(metric('image-services-gzip', 'Initramfs, boot fixture, gzip -6', 'MiB', +MiB(svc.gzipAsBuilt), { 'floor (busybox + runc)': +MiB(fl.gzipAsBuilt) }));
    metrics.push(metric('image-services-zstd', 'Initramfs, boot fixture, zstd -10', 'MiB', +MiB(svc.zstd10), { 'floor (busybox + runc)': +MiB(fl.zstd10) }));
  }
  writeResult({
    bench: 'image-size',
    machine: m,
    durationS: Math.round((Date.now() - started) / 1000),
    setup: {
      images: 'keel build of an empty manifest (kernel cmdline only), examples/demo.yml and bench/fixtures/services.yml; the floor initramfs for the fixture (busybox, runc + libraries, the same bundles, a shell /init)',
      compression: 'as built = keel build (node zlib gzip level 6); gzip -9 (zlib), zstd -3 and zstd -10 (-T0) of the same cpio',
    },
    metrics,
    notes,
    raw: { sizes: results, kernelBytes, parts },
  });
}

runBench(main);
