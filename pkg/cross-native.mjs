// Cross-compiles the two native addons an image carries, keel's own
// (init/native) and node-pty's, for another architecture with Debian's cross
// compiler (gcc-aarch64-linux-gnu, g++-aarch64-linux-gnu) against the same
// node headers the host build uses: node-gyp --arch in a copy of each source
// tree, so this machine's builds are left alone. Writes dist/ARCH/keel_sys.node
// and dist/ARCH/pty.node. Run through npm (npm run build:native-arm64), which
// puts node-gyp on PATH.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const TRIPLETS = { arm64: 'aarch64-linux-gnu' };
const arch = process.argv[2];
const triplet = TRIPLETS[arch];
if (!triplet) {
  console.error(`cross-native: expected one of ${Object.keys(TRIPLETS).join(', ')}, not ${arch}`);
  process.exit(2);
}
const cc = `${triplet}-gcc`;
if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error(`cross-native: ${cc} was not found; install gcc-${triplet} and g++-${triplet} (make deps does)`);
  process.exit(1);
}

const repo = resolve('.');
const env = { ...process.env, CC: cc, CXX: `${triplet}-g++`, LINK: `${triplet}-g++`, AR: `${triplet}-ar`, NODE_PATH: join(repo, 'node_modules') };
const out = join(repo, 'dist', arch);
mkdirSync(out, { recursive: true });

/** Builds `files` of `srcDir` in a scratch copy; moves build/Release/NAME to dist/ARCH/NAME. */
function crossBuild(srcDir, files, name) {
  const work = mkdtempSync(join(tmpdir(), `keel-cross-${arch}-`));
  try {
    for (const f of files) cpSync(join(srcDir, f), join(work, f), { recursive: true });
    const r = spawnSync('node-gyp', ['rebuild', `--arch=${arch}`], { cwd: work, env, encoding: 'utf8' });
    const built = join(work, 'build', 'Release', name);
    if (r.status !== 0 || !existsSync(built)) {
      console.error(`cross-native: ${name} for ${arch} did not build:\n${(r.stderr || r.stdout || r.error?.message || '').trim().split('\n').slice(-15).join('\n')}`);
      process.exit(1);
    }
    // Replace, never overwrite in place (as for the host addon).
    copyFileSync(built, join(out, `${name}.tmp`));
    renameSync(join(out, `${name}.tmp`), join(out, name));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

crossBuild(join(repo, 'init', 'native'), ['keel_sys.c', 'binding.gyp'], 'keel_sys.node');
crossBuild(join(repo, 'node_modules', 'node-pty'), ['binding.gyp', 'src', 'deps', 'package.json'], 'pty.node');
