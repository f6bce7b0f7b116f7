// The keel manifest: LinuxKit's YAML format plus keel's extensions. This file
// is the single description of the format; validation, the normalized JSON
// that `keel build` bakes into an image, and the JSON Schema all come from it.
import { duration } from './duration.js';
import {
  bool,
  field,
  fileMode,
  int,
  list,
  object,
  refine,
  str,
  unsupported,
  type Spec,
} from './schema.js';

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

const notYet = (what: string) =>
  `${what} is not supported by this version of keel yet; remove it from the manifest`;

const kernelSpec = object({
  image: field(str({ nonEmpty: true }), {
    description:
      "A Debian kernel package name (linux-image-6.1.0-50-amd64), a path to its .deb, or a path to a bzImage/vmlinuz file; default: keel's pinned Debian kernel",
  }),
  cmdline: field(str(), { default: '', description: 'The kernel command line' }),
  binary: unsupported(notYet('kernel.binary (LinuxKit kernel images)')),
  tar: unsupported(notYet('kernel.tar (LinuxKit kernel images)')),
  ucode: unsupported(notYet('kernel.ucode')),
});

const containerSpec = object({
  name: field(str({ pattern: NAME, patternHint: 'a name of lower-case letters, digits, "-", "_" or "."' }), {
    required: true,
  }),
  image: field(str({ nonEmpty: true }), { required: true }),
});

const noContainersYet = (section: string) =>
  refine(list(containerSpec), (entries) =>
    entries.length > 0 ? notYet(`running containers (${section})`) : undefined,
  );

const fileSpec = refine(
  object({
    path: field(str({ nonEmpty: true }), { required: true, description: 'Path in the image, relative to /' }),
    contents: field(str(), { description: 'The file contents' }),
    source: field(str({ nonEmpty: true }), { description: 'A host file to copy, relative to the manifest' }),
    directory: field(bool(), { description: 'Create a directory' }),
    symlink: field(str({ nonEmpty: true }), { description: 'Create a symbolic link to this target' }),
    optional: field(bool(), { default: false, description: 'A missing source is skipped rather than an error' }),
    mode: field(fileMode(), { description: 'Permission bits, e.g. "0644"' }),
    uid: field(int({ min: 0 }), { default: 0 }),
    gid: field(int({ min: 0 }), { default: 0 }),
    metadata: unsupported(notYet('files[].metadata')),
    image: unsupported(notYet('files[].image')),
  }),
  (f) => {
    const kinds = [f.contents !== undefined, f.source !== undefined, f.directory === true, f.symlink !== undefined];
    if (kinds.filter(Boolean).length > 1) return 'give only one of contents, source, directory: true, or symlink';
    if (/(^|\/)\.\.(\/|$)/.test(f.path)) return `path ${JSON.stringify(f.path)} must not contain ".."`;
    return undefined;
  },
);

const shutdownSpec = object({
  grace: field(duration(), {
    default: 5000,
    description: 'How long processes left at shutdown get between SIGTERM and SIGKILL',
  }),
});

export const manifestSpec = object(
  {
    kernel: field(kernelSpec, { description: 'The kernel to boot (build time only)' }),
    init: field(
      refine(list(str()), (images) => (images.length > 0 ? notYet('init images') : undefined)),
      { default: [] },
    ),
    onboot: field(noContainersYet('onboot'), { default: [] }),
    services: field(noContainersYet('services'), { default: [] }),
    onshutdown: field(noContainersYet('onshutdown'), { default: [] }),
    files: field(list(fileSpec), { default: [] }),
    volumes: unsupported(notYet('volumes')),
    trust: unsupported('trust was removed from LinuxKit and is not supported; remove it'),
    hostname: field(str({ pattern: HOSTNAME, patternHint: 'a hostname (letters, digits and "-", dot-separated)' }), {
      description: 'The machine hostname (keel extension); else /etc/hostname is used',
    }),
    shutdown: field(shutdownSpec, { default: { grace: 5000 } }),
  },
  { description: 'A keel manifest (LinuxKit YAML format with keel extensions)' },
);

type SpecValue<S> = S extends Spec<infer T> ? T : never;
export type Manifest = SpecValue<typeof manifestSpec>;
export type FileEntry = Manifest['files'][number];
export type KernelSpec = NonNullable<Manifest['kernel']>;
export type ContainerEntry = SpecValue<typeof containerSpec>;
