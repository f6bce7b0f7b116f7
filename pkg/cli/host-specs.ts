// The table of the host verbs (build, run, validate, …): what each takes, its
// help and its example. With the control verbs' table (api/commands) it is
// every verb keel has: `keel help`, each --help, the parsing and the shell
// completion all come from these entries.
import { CONTROL_SPECS } from '../../api/commands/control-specs.js';
import { COMPRESSIONS } from '../image/initrd.js';
import type { VerbSpec } from '../../api/commands/verb-spec.js';
import { ARCH_NAMES, MACHINE_HELP, MACHINE_NAMES } from '../image/arch.js';
import { OUTPUT_FORMATS } from '../image/image.js';
import { linuxkitOnlyFormats } from '../image/linuxkit-formats.js';
import { DEFAULT_INIT_TAG, INIT_DIR } from '../image/init-image.js';
import { DEFAULT_KERNEL_PACKAGE } from '../image/kernel.js';

const QUIET = { name: 'quiet', short: 'q', help: 'no progress lines' } as const;

const BUILD: VerbSpec = {
  name: 'build',
  summary: 'build a bootable image (kernel, initramfs, and other formats) from manifests',
  args: 'keel.yml...',
  min: 1,
  complete: 'manifest',
  options: [
    { name: 'output', short: 'o', value: 'DIR', default: '.', complete: 'dir', help: 'where the outputs go' },
    { name: 'name', value: 'NAME', help: "the outputs' name (default: the last manifest's file name without .yml)" },
    {
      name: 'format',
      value: 'FORMAT',
      multiple: true,
      // kernel+initrd is taken, as LinuxKit's scripts pass it, and adds nothing: it is always written.
      choices: OUTPUT_FORMATS,
      declined: linuxkitOnlyFormats(),
      help: 'also write the image in this format (kernel+initrd is always written; several: repeat it, or comma-separate them)',
    },
    { name: 'size', value: 'SIZE', help: 'the disk formats\' size, e.g. 2G (a bare number is MiB)' },
    { name: 'tag', value: 'IMAGE', help: 'the name the kubevirt image is loaded into the Docker engine as' },
    { name: 'compress', value: 'METHOD', choices: COMPRESSIONS, help: "the initramfs' compression: mixed (the default) is lz4 for node's binary, zstd for the rest; zstd is the smallest" },
    { name: 'arch', value: 'ARCH', choices: ARCH_NAMES, help: "the image's CPU (this machine's by default); arm64 images are kernel+initrd or tar" },
    { name: 'update-lock', help: "resolve every image reference again instead of using keel.lock (for another architecture, also fetch its Debian packages' current versions)" },
    { name: 'json', help: 'print what was built as JSON: each output with its size and sha256, each image with its id' },
    QUIET,
  ],
  description:
    'Builds NAME-kernel, NAME-initrd.img and NAME-cmdline from the manifest, and each --format asked for. ' +
    "Several manifests are merged in order, as LinuxKit merges them: kernel fields, hostname, console and shutdown settings of a later file replace the earlier ones; init, onboot, services, onshutdown, files and volumes are appended (a service or volume name twice is an error). " +
    'Image references are pinned in a lock file beside the last manifest (keel.yml: keel.lock). Progress goes to stderr: redrawn on one line on a terminal, plain lines otherwise. Needs root.',
  example: 'keel build -o out --format iso-bios examples/demo.yml',
  control: false,
};

const RUN: VerbSpec = {
  name: 'run',
  summary: 'boot a built image under qemu on this terminal',
  args: 'NAME|DIR/NAME|IMAGE-FILE',
  min: 1,
  max: 1,
  complete: 'file',
  options: [
    { name: 'mem', value: 'MB', default: '1024', help: 'memory in MiB (at least 128)' },
    { name: 'cpus', value: 'N', default: '1', help: 'virtual CPUs' },
    { name: 'accel', value: 'ACCEL', default: 'auto', choices: ['auto', 'kvm', 'tcg'], help: 'auto: KVM when it really boots a guest here, else TCG' },
    { name: 'uefi', help: 'boot with UEFI firmware (OVMF); EFI disks and ISOs get it without asking' },
    { name: 'arch', value: 'ARCH', choices: ARCH_NAMES, help: "the guest's CPU (by default the kernel's); arm64 boots in qemu-system-aarch64 -M virt with UEFI" },
    { name: 'machine', value: 'MACHINE', choices: MACHINE_NAMES, help: `qemu's machine: ${MACHINE_HELP}` },
    { name: 'no-reboot', help: 'a reboot of the guest ends qemu' },
    { name: 'name', value: 'VM', help: 'the name "keel --vm VM" finds it by (default: the image\'s name)' },
    { name: 'publish', short: 'p', value: '[HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]', multiple: true, help: "forward a host port to the guest, as docker run -p does (host address 127.0.0.1 unless given; tcp unless /udp)" },
    { name: 'data', value: 'STRING', emptyOk: true, help: 'instance data: keel-init puts it in /run/config/userdata (JSON becomes files, as LinuxKit does)' },
    { name: 'data-file', value: 'FILE', complete: 'file', help: 'instance data from a file, as --data' },
    { name: 'disk', value: 'PATH[,size=SIZE][,format=raw|qcow2]', multiple: true, complete: 'file', help: 'attach a virtio disk (/dev/vda, …); a missing raw file is created at size=' },
    { name: 'net', value: 'MODE', default: 'restricted', choices: ['restricted', 'user', 'none'], help: 'the NIC on qemu\'s user network: restricted reaches only the host, user whatever the host reaches, none has no NIC' },
    { name: 'qmp', value: 'SOCKET', complete: 'file', help: "qemu's QMP socket (default: in the VM's directory)" },
    { name: 'qemu-arg', value: 'ARG', multiple: true, help: 'one more argument for qemu, as --qemu-arg=-nic or --qemu-arg -nic' },
    QUIET,
  ],
  description:
    'Boots NAME-kernel, NAME-initrd.img and NAME-cmdline (else NAME.iso), or an ISO or disk named by its file, under qemu with the serial console on this terminal. ' +
    'The VM is registered as /run/keel/vms/VM, so "keel --vm VM ps" and the other verbs reach it from another terminal. ' +
    'ctrl-c (when stdin is not a terminal), SIGTERM or SIGHUP powers the guest off cleanly; ctrl-a x quits qemu at once. Exits with qemu\'s status. Needs root.',
  example: 'keel run -p 8080:80 --data \'{"web":{"entries":{"greeting":{"content":"hello"}}}}\' out/demo',
  control: false,
};

const HOST_SPECS: VerbSpec[] = [
  BUILD,
  RUN,
  {
    name: 'validate',
    summary: 'check manifests without building ("-" reads standard input)',
    args: 'keel.yml...|-',
    min: 1,
    complete: 'manifest',
    options: [{ name: 'json', help: 'print every problem as JSON: file, line, column, path, message' }],
    description: 'Checks each manifest, then (with several) their merge, as keel build would read them. Prints FILE: valid, or every problem with its line and column; exits 1 when one is invalid.',
    example: 'keel validate --json examples/demo.yml',
    control: false,
  },
  {
    name: 'schema',
    summary: "print the manifest's JSON Schema",
    args: '',
    min: 0,
    max: 0,
    options: [],
    description: "Prints the manifest's JSON Schema (draft 2020-12), for editors.",
    example: 'keel schema > keel.schema.json',
    control: false,
  },
  {
    name: 'init-image',
    summary: "load keel as a container image's init into the Docker engine, for COPY --from=",
    args: '',
    min: 0,
    max: 0,
    options: [
      { name: 'tag', short: 't', value: 'TAG', default: DEFAULT_INIT_TAG, help: 'the name it is loaded as' },
      { name: 'output', short: 'o', value: 'ARCHIVE', complete: 'file', help: 'keep the docker save archive here too' },
    ],
    description: `Writes ${INIT_DIR} (keel-init.js, keel.js, the addon, and node with the libraries it needs, loaded from ${INIT_DIR}/lib whatever the image's libc) as one layer of a docker save archive, and loads it into the Docker engine.`,
    example: 'keel init-image -o out/keel-init.tar',
    control: false,
  },
  {
    name: 'kernel',
    summary: `download a Debian kernel into the cache (default ${DEFAULT_KERNEL_PACKAGE})`,
    args: 'fetch [PACKAGE]',
    min: 1,
    max: 2,
    options: [{ name: 'arch', value: 'ARCH', choices: ARCH_NAMES, help: "without PACKAGE, that architecture's default kernel, fetched from Debian's lists for it" }],
    description: 'Downloads a Debian kernel package into the cache and unpacks it; prints where its kernel is.',
    example: `keel kernel fetch ${DEFAULT_KERNEL_PACKAGE}`,
    control: false,
  },
  {
    name: 'password',
    summary: 'read a password on stdin, print its hash for console.password',
    args: '',
    min: 0,
    max: 0,
    options: [],
    description: "Reads a password on standard input and prints its scrypt hash, for the manifest's console.password.",
    example: "printf %s 'the password' | keel password",
    control: false,
  },
  {
    name: 'completion',
    summary: 'print a shell completion script (bash or zsh)',
    args: 'bash|zsh',
    min: 1,
    max: 1,
    options: [],
    description: 'Prints a script that completes verbs, options and their values, the names of running VMs and the services of a running keel. Load it in the shell, or install it where the shell looks.',
    example: 'source <(keel completion bash)',
    control: false,
  },
  {
    name: 'version',
    summary: "keel's version",
    args: '',
    min: 0,
    max: 0,
    options: [],
    description: 'Prints keel VERSION (--version does too).',
    example: 'keel version',
    control: false,
  },
  {
    name: 'help',
    summary: 'this summary, or one command\'s help',
    args: '[COMMAND]',
    min: 0,
    max: 1,
    options: [],
    description: 'Without COMMAND, every command on a line; with it, that command\'s usage, options and an example, as "keel COMMAND --help" prints them.',
    example: 'keel help run',
    control: false,
  },
];

/** Every verb keel has: the host verbs, then those that talk to a running keel. */
export const ALL_SPECS: readonly VerbSpec[] = [...HOST_SPECS, ...CONTROL_SPECS];

export function hostSpec(name: string): VerbSpec {
  const spec = HOST_SPECS.find((v) => v.name === name);
  if (!spec) throw new Error(`no host verb ${name}`); // a bug in keel
  return spec;
}

export function findSpec(name: string): VerbSpec | undefined {
  return ALL_SPECS.find((v) => v.name === name);
}
