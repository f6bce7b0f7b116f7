// One layer's tar entries applied to an image root, with the result the
// Docker engine shows for the image. Docker (overlay2) unpacks each layer
// into a directory of its own and stacks the directories with overlayfs;
// keel has one directory, so it applies each layer in place with the rules
// that stacking gives:
// - An entry replaces what the layers below have at its path; only a
//   directory over a directory merges (the entry's owner, mode and time win).
// - A lower layer's symlink is never followed: a path in a layer names
//   itself. A parent directory the layer does not list is made afresh
//   (0755, root), as Docker makes it in the layer's own directory, so it
//   replaces a lower symlink or file and takes over a lower directory's
//   owner and mode. A symlink made by the same layer is followed, inside
//   the root (walkInRoot), as in Docker's chroot.
// - Whiteouts (".wh.NAME", and a 0/0 character device, overlayfs' own
//   whiteout) and opaque directories (".wh..wh..opq") hide what the layers
//   below put there, never what this layer puts there, wherever they come
//   in the stream; they are applied when the layer ends. An entry at a
//   whited-out path in the same layer cancels the whiteout, as it replaces
//   the whiteout in Docker's layer directory.
// The set of paths this layer touched tells its own files from the lower
// layers' ones.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from 'node:fs';
import type { TarEntry } from './tar-format.js';
import type { EntrySink, TarVisitor } from './tar-stream.js';
import { cleanName, lstatOrUndefined, RealDirs, relBase, relJoin, relParent, RootPathError, walkInRoot } from './root-path.js';

const WHITEOUT = '.wh.';
const AUFS_META = '.wh..wh.';
const OPAQUE = '.wh..wh..opq';
const IMPLICIT_DIR_MODE = 0o755;
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export class LayerError extends Error {
  override name = 'LayerError';
}

/** Access time as Docker sets it: never before the modification time. */
const atimeOf = (e: TarEntry) => Math.max(e.atime ?? e.mtime, e.mtime);

export class LayerApplier implements TarVisitor {
  /** Paths this layer created or set, by their real rel path. */
  private readonly touched = new Set<string>();
  private readonly whiteouts = new Set<string>();
  private readonly opaque = new Set<string>();
  /** Directory times are set last: making their children changes them. */
  private readonly dirTimes: Array<{ rel: string; atime: number; mtime: number }> = [];
  /** Directory names of the layer → real rel path; cleared when a directory or symlink is removed. */
  private readonly parents = new Map<string, string>();
  private openFile: number | undefined;

  /** whiteouts: false extracts a plain archive, where ".wh." names are ordinary files. */
  constructor(
    private readonly root: string,
    private readonly whiteoutsApply = true,
  ) {}

  entry(e: TarEntry): EntrySink | undefined {
    try {
      return this.apply(e);
    } catch (err) {
      if (err instanceof RootPathError || err instanceof LayerError) throw new LayerError(`${JSON.stringify(e.name)}: ${err.message}`);
      throw err;
    }
  }

  /** Applies the whiteouts, opaque directories and directory times; call once the stream has ended. */
  finish(): void {
    const real = new RealDirs(this.root);
    for (const dir of this.opaque) {
      if (real.has(dir)) for (const name of readdirSync(this.abs(dir))) this.pruneLower(relJoin(dir, name));
    }
    for (const rel of this.whiteouts) if (real.has(relParent(rel))) this.pruneLower(rel);
    const after = new RealDirs(this.root);
    for (const { rel, atime, mtime } of this.dirTimes) if (after.has(rel)) utimesSync(this.abs(rel), atime, mtime);
  }

  /** Closes a file left open by a stream that broke off. */
  abort(): void {
    if (this.openFile !== undefined) closeSync(this.openFile);
    this.openFile = undefined;
  }

  private abs(rel: string): string {
    return rel ? `${this.root}/${rel}` : this.root;
  }

  private apply(e: TarEntry): EntrySink | undefined {
    const name = cleanName(e.name);
    if (name === undefined) throw new LayerError('the path points outside the image');
    if (name === '') {
      // The root itself: only its attributes can change.
      if (e.type === 'dir') this.setDirAttributes('', e);
      return undefined;
    }
    const dir = relParent(name);
    const base = relBase(name);
    if (this.whiteoutsApply) {
      // AUFS bookkeeping (.wh..wh.plnk and the like) is skipped, as Docker skips it; so is an
      // opaque marker for the root, which overlayfs ignores (a layer's root is never opaque).
      if (name.startsWith(AUFS_META) || (base.startsWith(AUFS_META) && base !== OPAQUE)) return undefined;
      if (base === OPAQUE) {
        const at = this.dirFor(dir, true);
        if (at !== undefined) this.opaque.add(at);
        return undefined;
      }
      const hidden = base.startsWith(WHITEOUT) ? base.slice(WHITEOUT.length) : e.type === 'char' && e.devmajor === 0 && e.devminor === 0 ? base : undefined;
      if (hidden !== undefined) {
        if (hidden === '' || hidden === '.' || hidden === '..') throw new LayerError('not a valid whiteout name');
        const at = this.dirFor(dir, true);
        if (at !== undefined) this.whiteouts.add(relJoin(at, hidden));
        return undefined;
      }
    }
    const rel = relJoin(this.dirFor(dir, false)!, base);
    this.whiteouts.delete(rel);
    this.touched.add(rel);
    switch (e.type) {
      case 'file':
        return this.makeFile(rel, e);
      case 'dir':
        this.makeDir(rel, e);
        return undefined;
      case 'symlink':
        this.remove(rel);
        symlinkSync(e.linkname, this.abs(rel));
        lchownSync(this.abs(rel), e.uid, e.gid);
        lutimesSync(this.abs(rel), atimeOf(e), e.mtime);
        return undefined;
      case 'hardlink':
        this.makeHardlink(rel, e);
        return undefined;
      default:
        this.makeNode(rel, e);
        return undefined;
    }
  }

  /**
   * The real rel path of a directory the layer names as a parent, made
   * ready for entries (see the header). For a whiteout, undefined when the
   * directory is itself whited out by this layer: there is nothing to hide.
   */
  private dirFor(dir: string, forWhiteout: boolean): string | undefined {
    if (dir === '') return '';
    const cached = this.parents.get(dir);
    if (cached !== undefined) return cached;
    const parent = this.dirFor(relParent(dir), forWhiteout);
    if (parent === undefined) return undefined;
    const rel = relJoin(parent, relBase(dir));
    const st = lstatOrUndefined(this.abs(rel));
    let real: string | undefined = rel;
    if (st && this.touched.has(rel)) {
      if (st.isSymbolicLink()) real = walkInRoot(this.root, parent, readlinkSync(this.abs(rel)));
      else if (!st.isDirectory()) throw new LayerError(`/${rel} is not a directory`);
    } else if (forWhiteout && this.whiteouts.has(rel)) {
      real = undefined;
    } else {
      this.implicitDir(rel, st);
    }
    if (real !== undefined) this.parents.set(dir, real);
    return real;
  }

  /** A parent the layer does not list: a new 0755 root directory, made now, in Docker's layer directory, so here too. */
  private implicitDir(rel: string, st: Stats | undefined): void {
    const abs = this.abs(rel);
    if (st?.isDirectory()) {
      if (st.uid !== 0 || st.gid !== 0) lchownSync(abs, 0, 0);
      if ((st.mode & 0o7777) !== IMPLICIT_DIR_MODE) chmodSync(abs, IMPLICIT_DIR_MODE);
      const now = Date.now() / 1000;
      utimesSync(abs, now, now);
    } else {
      if (st) this.remove(rel, st);
      mkdirSync(abs);
      lchownSync(abs, 0, 0);
      chmodSync(abs, IMPLICIT_DIR_MODE);
    }
    this.touched.add(rel);
  }

  /** Removes whatever is at rel (a whole tree for a directory; a symlink itself, never its target). */
  private remove(rel: string, st = lstatOrUndefined(this.abs(rel))): void {
    if (!st) return;
    if (st.isDirectory()) rmSync(this.abs(rel), { recursive: true, force: true });
    else unlinkSync(this.abs(rel));
    if (st.isDirectory() || st.isSymbolicLink()) this.parents.clear();
  }

  /** Removes what the layers below left at rel, keeping what this layer put there. */
  private pruneLower(rel: string): void {
    const st = lstatOrUndefined(this.abs(rel));
    if (!st) return;
    if (!this.touched.has(rel)) this.remove(rel, st);
    else if (st.isDirectory()) for (const name of readdirSync(this.abs(rel))) this.pruneLower(relJoin(rel, name));
  }

  private makeDir(rel: string, e: TarEntry): void {
    const st = lstatOrUndefined(this.abs(rel));
    if (!st?.isDirectory()) {
      this.remove(rel, st);
      mkdirSync(this.abs(rel));
    }
    this.setDirAttributes(rel, e);
  }

  private setDirAttributes(rel: string, e: TarEntry): void {
    lchownSync(this.abs(rel), e.uid, e.gid);
    chmodSync(this.abs(rel), e.mode); // after chown, which may clear setgid
    this.dirTimes.push({ rel, atime: atimeOf(e), mtime: e.mtime });
  }

  private makeFile(rel: string, e: TarEntry): EntrySink {
    const abs = this.abs(rel);
    let fd: number;
    try {
      fd = openSync(abs, CREATE, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      this.remove(rel); // never write through: the old file may be a hard link of another path
      fd = openSync(abs, CREATE, 0o600);
    }
    this.openFile = fd;
    return {
      write(chunk) {
        for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at);
      },
      end: () => {
        this.openFile = undefined;
        try {
          fchownSync(fd, e.uid, e.gid);
          fchmodSync(fd, e.mode); // after chown, which clears setuid and setgid
          futimesSync(fd, atimeOf(e), e.mtime);
        } finally {
          closeSync(fd);
        }
      },
    };
  }

  /**
   * A hard link to a path of this layer or of a lower one, found inside
   * the root. Docker's overlay2 can only link within the layer (a link to a
   * lower file fails the load); a link to a lower file is what one
   * directory tree can hold, so keel makes it.
   */
  private makeHardlink(rel: string, e: TarEntry): void {
    const name = cleanName(e.linkname);
    if (!name) throw new LayerError(`the hard link target ${JSON.stringify(e.linkname)} points outside the image`);
    let target: string;
    try {
      target = relJoin(walkInRoot(this.root, '', relParent(name)), relBase(name));
    } catch (err) {
      if (err instanceof RootPathError) throw new LayerError(`the hard link target /${name} cannot be reached: ${err.message}`);
      throw err;
    }
    const st = lstatOrUndefined(this.abs(target));
    if (!st) throw new LayerError(`the hard link target /${name} does not exist`);
    if (st.isDirectory()) throw new LayerError(`the hard link target /${name} is a directory`);
    if (target !== rel) {
      this.remove(rel);
      linkSync(this.abs(target), this.abs(rel));
    }
    // The link's header sets the owner, mode and time of the file it shares (as Docker applies it).
    lchownSync(this.abs(rel), e.uid, e.gid);
    if (st.isSymbolicLink()) return;
    chmodSync(this.abs(rel), e.mode);
    utimesSync(this.abs(rel), atimeOf(e), e.mtime);
  }

  /** Device nodes and FIFOs: Node has no mknod(2), so the mknod command makes them. */
  private makeNode(rel: string, e: TarEntry): void {
    this.remove(rel);
    const kind = e.type === 'char' ? ['c', String(e.devmajor), String(e.devminor)] : e.type === 'block' ? ['b', String(e.devmajor), String(e.devminor)] : ['p'];
    const r = spawnSync('mknod', ['-m', (e.mode & 0o777).toString(8), this.abs(rel), ...kind], { encoding: 'utf8' });
    if (r.error) throw new LayerError(`cannot run mknod: ${r.error.message}`);
    if (r.status !== 0) throw new LayerError(`mknod failed: ${r.stderr.trim()}`);
    lchownSync(this.abs(rel), e.uid, e.gid);
    chmodSync(this.abs(rel), e.mode);
    utimesSync(this.abs(rel), atimeOf(e), e.mtime);
  }
}
