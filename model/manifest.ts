// The keel manifest: LinuxKit's YAML format plus keel's extensions. This file
// is the single description of the format; validation, the normalized JSON
// that `keel build` bakes into an image, and the JSON Schema all come from it.
import { containerBaseSpec, containerList, containerSpec, imageLabelSpec, imageRef } from './container.js';
import { serviceList } from './service.js';
import { duration } from './duration.js';
import { isPasswordHash } from './password.js';
import { VOLUME_NAME } from './strings.js';
import {
  bool,
  checkedString,
  defaulted,
  field,
  fileMode,
  int,
  list,
  object,
  oneOf,
  clip,
  refine,
  show,
  str,
  unsupported,
  type Spec,
} from './schema.js';

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const notYet = (what: string) =>
  `${what} is not supported by this version of keel yet; remove it from the manifest`;

const kernelSpec = object({
  image: field(imageRef, {
    description:
      "A Debian kernel package name (linux-image-6.1.0-50-amd64), a path to its .deb or to a bzImage/vmlinuz file, or a LinuxKit-style kernel image (reference, directory or docker save archive holding kernel and kernel.tar); default: keel's pinned Debian kernel",
  }),
  cmdline: field(str(), { default: '', description: 'The kernel command line' }),
  modules: field(list(str({ nonEmpty: true })), { default: [], description: "Kernel modules to load at boot besides keel's defaults (keel extension)" }),
  binary: field(str({ nonEmpty: true }), { description: 'In a kernel image: the path of the bzImage (default "kernel")' }),
  tar: field(str({ nonEmpty: true }), { description: 'In a kernel image: the tar of lib/modules (default "kernel.tar"; "none" for none)' }),
  ucode: field(str(), { description: 'In a kernel image: an uncompressed microcode cpio placed before the initramfs ("" for none)' }),
});

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
    metadata: field(oneOf(['yaml', 'json'] as const), { description: 'The file holds the manifest itself, as written, in YAML or JSON (LinuxKit)' }),
    image: unsupported(notYet('files[].image')),
  }),
  (f) => {
    const kinds = [f.contents !== undefined, f.source !== undefined, f.directory === true, f.symlink !== undefined, f.metadata !== undefined];
    if (kinds.filter(Boolean).length > 1) return 'give only one of contents, source, directory: true, symlink, or metadata';
    if (/(^|\/)\.\.(\/|$)/.test(f.path)) return `path ${show(f.path)} must not contain ".."`;
    return undefined;
  },
);

const consoleSpec = refine(
  object({
    access: field(oneOf(['open', 'off', 'password'] as const), { default: 'open' as const, description: 'Who may use the keel> prompt on the console: anyone (open), no one (off), or whoever knows the password' }),
    password: field(checkedString('an scrypt hash made with "keel password"', (s) => (isPasswordHash(s) ? undefined : 'not a hash from "keel password"')), { description: 'The password hash, for access: password' }),
  }),
  (c) => (c.access === 'password' && !c.password ? 'access: password needs a password hash; make one with "keel password"' : undefined),
);

/** The shutdown deadline when the manifest gives none: on a machine, and as a container's init. */
export const SHUTDOWN_TIMEOUT_MS = 45_000;
export const CONTAINER_SHUTDOWN_TIMEOUT_MS = 8000;

/** Where entries' output goes besides their logs: each line prefixed with the entry's name, as written, or nowhere. */
export const OUTPUT_MODES = ['prefixed', 'plain', 'none'] as const;
export type OutputMode = (typeof OUTPUT_MODES)[number];

const shutdownSpec = object({
  grace: field(duration(), {
    default: 5000,
    description: 'How long processes left at shutdown get between SIGTERM and SIGKILL',
  }),
  timeout: field(duration(), {
    description: `The whole shutdown ends within this: what is still stopping then is named and killed, and the machine powers off (keel extension); default ${SHUTDOWN_TIMEOUT_MS / 1000} s, ${CONTAINER_SHUTDOWN_TIMEOUT_MS / 1000} s as a container's init (inside Docker's 10 s grace)`,
  }),
});

/** How long a container's command waits for the services when the manifest gives no cmd.timeout. */
export const CMD_WAIT_TIMEOUT_MS = 30_000;

const cmdSpec = object(
  {
    waitFor: field(oneOf(['ready', 'started', 'none'] as const), {
      default: 'ready' as const,
      description: "The command starts once every service is ready (or completed), once every service has started, or at once beside them (none)",
    }),
    timeout: field(duration(), {
      default: CMD_WAIT_TIMEOUT_MS,
      description: `How long the command waits for the services at most (default ${CMD_WAIT_TIMEOUT_MS / 1000} s; 0: no limit)`,
    }),
    ifNotReady: field(oneOf(['exit', 'start'] as const), {
      default: 'exit' as const,
      description: 'When a service failed before the command could start, or the timeout passed: end the container with exit code 1 (exit), or start the command anyway (start); either way keel says which services and why',
    }),
  },
  { description: "As a container's init: when the command given to the container (docker run's CMD) starts (keel extension)" },
);

const volumeSpec = object({
  name: field(str({ pattern: VOLUME_NAME, patternHint: 'a volume name (lower-case letters, digits, ".", "_", "-")' }), { required: true, description: 'Named in binds as NAME:/path' }),
  image: field(imageRef, { description: "An image whose files fill the volume; else it starts empty" }),
  readonly: field(bool(), { default: false, description: 'Bound read-only into every container' }),
  format: field(oneOf(['filesystem', 'oci'] as const), { default: 'filesystem' as const, description: 'filesystem: the image\'s files; oci: the image as an OCI image layout (flattened to one layer)' }),
  platforms: field(list(str({ pattern: /^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/, patternHint: 'a platform such as linux/amd64' })), { description: 'oci: the platforms to write; keel writes the one it builds for' }),
});

const sections = object(
  {
    kernel: field(kernelSpec, { description: 'The kernel to boot (build time only)' }),
    init: field(list(imageRef), {
      default: [],
      description: "Images unpacked, in order, into the root filesystem (keel's own /init, runc and busybox win over theirs)",
    }),
    onboot: field(containerList(), { default: [], description: 'Containers run one after another to completion at boot' }),
    services: field(serviceList(), { default: [], description: 'Long-running containers, supervised: restarted by policy, started in dependency order' }),
    onshutdown: field(containerList(), { default: [], description: 'Containers run one after another at shutdown, after services stop' }),
    files: field(list(fileSpec), { default: [] }),
    volumes: field(list(volumeSpec), { default: [], description: 'Named directories in the image that containers bind by name (NAME:/path)' }),
    trust: unsupported('trust was removed from LinuxKit and is not supported; remove it'),
    hostname: field(str({ pattern: HOSTNAME, patternHint: 'a hostname (letters, digits and "-", dot-separated)' }), {
      description: 'The machine hostname (keel extension); else /etc/hostname is used',
    }),
    shutdown: defaulted(shutdownSpec),
    console: field(consoleSpec, { default: { access: 'open' as const }, description: 'The console prompt (keel extension)' }),
    main: field(str({ pattern: /^[a-z0-9][a-z0-9_.-]*$/, patternHint: 'a service name' }), {
      description: "As a container's init: the service whose end (an exit its restart policy does not restart) ends the container, with its exit code (128+N for signal N) (keel extension)",
    }),
    cmd: defaulted(cmdSpec),
    output: field(oneOf(OUTPUT_MODES), {
      description: "Where entries' output goes besides their logs: keel's stdout and stderr, each line prefixed with the entry's name (prefixed), as written (plain), or not at all (none); default prefixed as a container's init, else none (keel extension)",
    }),
  },
  { description: 'A keel manifest (LinuxKit YAML format with keel extensions)' },
);

/** main names a service; a container's uid, gid and additionalGids may name another container; bind sources may name a volume; those names must exist. */
export const manifestSpec = refine(sections, (m) => {
  const all = [...m.onboot, ...m.services, ...m.onshutdown];
  const volumes = new Set<string>();
  for (const v of m.volumes) {
    if (volumes.has(v.name)) return `volumes: the name "${v.name}" is used twice`;
    volumes.add(v.name);
  }
  for (const c of all) {
    for (const b of [...(c.binds ?? []), ...(c['binds.add'] ?? [])]) {
      if (!b.source.startsWith('/') && !volumes.has(b.source)) return `${c.name}: binds "${b.source}:${clip(b.destination)}" names the volume "${b.source}", which the volumes section does not define`;
    }
  }
  if (m.main !== undefined && !m.services.some((s) => s.name === m.main)) return `main: "${m.main}" is not a service in this manifest`;
  const names = new Set(all.map((c) => c.name));
  for (const c of all) {
    // A process entry's uid and gid name users and groups of the root it runs in (/etc/passwd, /etc/group).
    if (c.kind === 'process') continue;
    for (const v of [c.uid, c.gid, ...(c.additionalGids ?? [])]) {
      if (typeof v === 'string' && v !== 'root' && !names.has(v)) return `${c.name}: uid/gid "${clip(v)}" is neither a number, "root", nor the name of a container in this manifest`;
    }
  }
  return undefined;
});

type SpecValue<S> = S extends Spec<infer T> ? T : never;
export type Manifest = SpecValue<typeof manifestSpec>;

/** Every entry of the manifest, in the order its phases run: onboot, services, onshutdown. */
export const entriesOf = (m: Pick<Manifest, 'onboot' | 'services' | 'onshutdown'>) => [...m.onboot, ...m.services, ...m.onshutdown];
export type FileEntry = Manifest['files'][number];
export type KernelSpec = NonNullable<Manifest['kernel']>;
export type ContainerEntry = SpecValue<typeof containerSpec>;
export type ContainerBase = SpecValue<typeof containerBaseSpec>;
export type ImageLabel = SpecValue<typeof imageLabelSpec>;
