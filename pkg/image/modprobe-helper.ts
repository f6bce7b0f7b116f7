// The image's modprobe: what the kernel runs when it wants a module it does
// not have (request_module: mounting a filesystem it lacks asks for
// "fs-NAME", making a link of a kind it lacks "rtnl-link-KIND"). keel-init
// names it in /proc/sys/kernel/modprobe. The kernel runs it as
// `PATH -q -- NAME` and waits for it, then looks again for what it wanted.
//
// keel build writes it as a busybox shell script with one case per module
// that may be asked for, its dependencies listed first, so at run time
// nothing is read or searched: under emulation each exec and each read
// costs. A name it does not know exits 1 at once, as modprobe does for an
// unknown module; the kernel then fails the mount or link with its usual
// error. Loading a module that is already in (keel-init loads the rest once
// boot is complete; two requests may race) fails with EEXIST, which leaves
// the kernel what it wanted: so a failed insmod counts only when the module
// is not in /sys/module afterwards, and then a warning goes to the kernel's
// log, which keel-init relays to the console and its events.
import { moduleName, withDependencies, type ListedModule } from '../../model/module-list.js';

/** A shell word for `s`, quoted when it holds anything but plain characters. */
const word = (s: string) => (/^[A-Za-z0-9_./,:+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
/** A case pattern for a request name: glob characters in it are matched literally. */
const caseWord = (s: string) => s.replace(/[^A-Za-z0-9_./,:+-]/g, (c) => `\\${c}`);

/**
 * The script for the modules of `list` that carry request names, or undefined when none does. `list` is in load
 * order (dependencies first), with paths as in the image.
 */
export function modprobeScript(list: readonly ListedModule[]): string | undefined {
  const asked = list.filter((m) => (m.requests ?? []).length > 0);
  if (asked.length === 0) return undefined;
  const loads = (m: ListedModule) => withDependencies(list, [m]).map(({ path }) => `    load ${word(path)} ${word(moduleName(path))}\n`);
  const cases = asked.map((m) => `  ${m.requests!.map(caseWord).join('|')})\n${loads(m).join('')}    ;;`);
  return [
    '#!/bin/sh',
    '# keel: the kernel runs this as "modprobe -q -- NAME" for a module it lacks (/proc/sys/kernel/modprobe).',
    '# Written by keel build from /etc/keel/modules; each case loads a module and what it needs, in order.',
    // The test suite runs this script with a stand-in for insmod and a file for the kernel's log (loading into, or
    // logging to, the test machine's kernel is not a test); the kernel runs it with a fixed environment (HOME,
    // TERM, PATH), so in the VM it is always busybox's insmod and /dev/kmsg.
    'failed=',
    'load() {',
    '  err=$(${KEEL_INSMOD:-/bin/busybox insmod} "$1" 2>&1) || [ -d "/sys/module/$2" ] || {',
    '    failed=1',
    '    echo "<12>keel: modprobe $name: $1: ${err:-insmod failed}" >"${KEEL_KMSG:-/dev/kmsg}" 2>/dev/null',
    '  }',
    '}',
    'for name; do :; done',
    'case "$name" in',
    ...cases,
    '  *) exit 1 ;;',
    'esac',
    '[ -z "$failed" ] || exit 1',
    // In dmesg (info, the user facility: below what keel-init relays to the console), for whoever wonders why it is in.
    'echo "<14>keel: loaded a module for the kernel\'s request: $name" >"${KEEL_KMSG:-/dev/kmsg}" 2>/dev/null',
    'exit 0',
    '',
  ].join('\n');
}
