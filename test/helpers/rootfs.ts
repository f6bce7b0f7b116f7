// Root filesystem fixtures made from busybox-static: no registry, no Docker.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const BUSYBOX = '/bin/busybox';

/** A minimal root filesystem: /bin/busybox with every applet as a symlink, and the usual empty mount points. */
export function busyboxRootfs(dir: string): string {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install busybox-static (make deps does)`);
  for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'var', 'run']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  spawnSync('chmod', ['755', join(dir, 'bin/busybox')]);
  const applets = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) {
    const link = join(dir, 'bin', a);
    if (!existsSync(link)) symlinkSync('busybox', link);
  }
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  return dir;
}

/** One container entry of a keel.yml section: a shell script in `rootfs`, plus extra YAML fields. */
export function shellEntry(rootfs: string, name: string, script: string, extra = ''): string {
  const fields = extra
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => `    ${l}\n`)
    .join('');
  return `  - name: ${name}\n    image: ${rootfs}\n    command: ["/bin/sh", "-c", ${JSON.stringify(script)}]\n${fields}`;
}

/** Compiles one of test/fixtures' C programs, statically, into the root filesystem's /bin/NAME (so busybox roots can run it). */
export function staticTool(rootfs: string, name: string, source: string): void {
  const cc = spawnSync('gcc', ['-static', '-O2', '-o', join(rootfs, 'bin', name), join(import.meta.dirname, '..', 'fixtures', source)], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build ${source} (gcc and libc6-dev are needed; make deps installs them): ${cc.stderr}`);
}
