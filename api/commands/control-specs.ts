// The table of the verbs that talk to a running keel: what each takes, its
// help and its example. verbs.ts and attach.ts run them; the console prompt
// runs the same entries.
import type { OptionSpec, VerbSpec } from './verb-spec.js';

const JSON_OPTION: OptionSpec = { name: 'json', help: 'print JSON instead of text' };
const WAIT_OPTION: OptionSpec = { name: 'wait', help: 'return once it is done (down for stop; started or failed for start)' };
const FOLLOW_OPTION: OptionSpec = { name: 'follow', short: 'f', help: 'keep printing new lines until ctrl-c' };

function action(name: 'start' | 'stop' | 'restart' | 'reset', summary: string, description: string): VerbSpec {
  return {
    name,
    summary,
    args: 'NAME',
    min: 1,
    max: 1,
    complete: 'service',
    options: [WAIT_OPTION, JSON_OPTION],
    description: `${description} Without --wait it returns at once with the state at that moment; the events tell the rest.`,
    example: `keel ${name} web${name === 'restart' ? ' --wait' : ''}`,
    control: true,
  };
}

function power(name: 'poweroff' | 'reboot'): VerbSpec {
  return {
    name,
    summary: name === 'poweroff' ? 'shut the machine down cleanly and power off' : 'shut the machine down cleanly and restart it',
    args: '',
    min: 0,
    max: 0,
    options: [],
    description: `Stops the services in reverse dependency order, runs onshutdown, then ${name === 'poweroff' ? 'powers off' : 'restarts'}: the same sequence as a power signal.`,
    example: `keel --vm demo ${name}`,
    control: true,
  };
}

export const CONTROL_SPECS: readonly VerbSpec[] = [
  {
    name: 'ps',
    summary: 'services, their state, pid, restarts',
    args: '',
    min: 0,
    max: 0,
    options: [JSON_OPTION, { name: 'quiet', short: 'q', help: 'print only the names' }],
    description: 'One line per service: its state (and health), pid, restarts, uptime, and why (its reason, or its last exit).',
    example: 'keel --vm demo ps',
    control: true,
  },
  {
    name: 'inspect',
    summary: 'one service in full, with its exit history (with --vm and no NAME: the VM)',
    args: '[NAME]',
    min: 0,
    max: 1,
    complete: 'service',
    options: [],
    description:
      'One service as JSON: its summary, its last 20 exits (how each ended, its last log lines), its configuration. ' +
      'keel --vm VM inspect without a NAME shows the VM itself instead, as keel run started it: its image, memory, CPUs, network, published ports, disks and instance data.',
    example: 'keel --vm demo inspect web',
    control: true,
  },
  {
    name: 'logs',
    summary: "a service's log",
    args: 'NAME',
    min: 1,
    max: 1,
    complete: 'service',
    options: [
      FOLLOW_OPTION,
      { name: 'previous', short: 'p', help: 'the log of the last attempt that exited (no follow)' },
      { name: 'tail', short: 'n', value: 'N', help: 'only the last N lines' },
      { name: 'json', help: 'one JSON object a line: time, stream, attempt, line' },
    ],
    description: 'The lines keel keeps of the service, as TIME STREAM #ATTEMPT TEXT.',
    example: 'keel logs -f web',
    control: true,
  },
  action('start', 'start a service', 'Starts it unless it is already starting or up; its dependencies are neither started nor awaited.'),
  action('stop', 'stop a service (no restart follows)', 'Stops it with its stopSignal, then SIGKILL after its stopTimeout; no restart follows.'),
  action('restart', 'stop a service, then start it', 'Stops it, then starts it.'),
  action('reset', 'forget failures and the start limit; a failed service starts again', 'Forgets its failures, restart count and start limit; a failed service starts again.'),
  {
    name: 'events',
    summary: 'the event stream, resumable from an event id',
    args: '',
    min: 0,
    max: 0,
    options: [FOLLOW_OPTION, { name: 'since', value: 'ID', default: '0', help: 'only the events after this id' }, { name: 'json', help: 'one JSON event a line' }],
    description: 'The events keel keeps (the last 1000), as ID TIME [LEVEL: ]MESSAGE.',
    example: 'keel events -f --since 120',
    control: true,
  },
  {
    name: 'stats',
    summary: 'memory, CPU and pids of each running service',
    args: '',
    min: 0,
    max: 0,
    options: [JSON_OPTION],
    description: "Memory, peak memory, CPU time, throttling and pids of each running service, from its cgroup.",
    example: 'keel stats',
    control: true,
  },
  {
    name: 'boot-report',
    summary: 'how long each part of boot took (JSON)',
    args: '',
    min: 0,
    max: 0,
    options: [],
    description: 'JSON: the time from kernel start to keel, to onboot done, to boot complete and to all services ready, the onboot results, and each boot stage with its duration.',
    example: 'keel --vm demo boot-report',
    control: true,
  },
  power('poweroff'),
  power('reboot'),
  {
    name: 'exec',
    summary: 'a program in a running service (sh by default)',
    args: 'NAME [CMD...]',
    min: 1,
    restFrom: 1,
    complete: 'service',
    options: [
      { name: 'interactive', short: 'i', help: "accepted for docker exec's habit: stdin is always passed on" },
      { name: 'tty', short: 't', help: "accepted for docker exec's habit: a terminal is used whenever stdin is one" },
    ],
    description:
      "Runs CMD in the service's container, on a terminal of this terminal's size when stdin is one (TERM is passed on), else with plain pipes for scripts. " +
      "Options go before NAME; everything after it is the command (a \"--\" right after NAME is dropped, as kubectl exec reads it). Exits with the program's status.",
    example: 'keel --vm demo exec web cat /etc/hostname',
    control: true,
  },
  {
    name: 'console',
    summary: 'the keel> prompt, remotely',
    args: '',
    min: 0,
    max: 0,
    options: [],
    description: 'The keel> prompt of the console, on this terminal: the verbs, sh, exec NAME; exit or ctrl-d closes it.',
    example: 'keel --vm demo console',
    control: true,
  },
];

export function controlSpec(name: string): VerbSpec | undefined {
  return CONTROL_SPECS.find((v) => v.name === name);
}
