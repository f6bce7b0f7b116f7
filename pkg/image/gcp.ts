// The gcp output: what Google Compute Engine imports as an image, a
// gzip'd tar holding exactly one file, disk.raw, whose size is a whole
// number of GiB, in GNU's old tar format with holes stored sparse (the form
// Google's import instructions give). GNU tar finds the holes by reading
// for zeros (not by asking the file system), the dates are the build's and
// gzip stores no name or date, so the same disk gives the same bytes.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { BuildError } from './kernel.js';

/** The one name Compute Engine looks for in the archive. */
export const GCP_DISK_NAME = 'disk.raw';
/** Compute Engine wants the raw disk's size to be a whole number of GiB. */
export const GCP_DISK_UNIT = 2 ** 30;

/** Writes DIR/disk.raw as a .tar.gz to `out`. */
export async function writeGcpArchive(dir: string, out: string, epoch: number): Promise<void> {
  const args = ['--create', '--file=-', `--directory=${dir}`, '--format=oldgnu', '--sparse', '--hole-detection=raw', `--mtime=@${epoch}`, '--owner=0', '--group=0', '--numeric-owner', '--mode=0644', GCP_DISK_NAME];
  const tar = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    tar.on('error', (err) => reject(new BuildError(`tar was not found (${err.message}); install it with "apt-get install tar"`)));
    tar.on('close', (code) => resolve(code));
  });
  await pipeline(tar.stdout, createGzip({ level: 9 }), createWriteStream(out));
  const code = await exited;
  if (code !== 0) throw new BuildError(`tar could not archive ${dir}/${GCP_DISK_NAME}: ${stderr.trim()}`);
}
