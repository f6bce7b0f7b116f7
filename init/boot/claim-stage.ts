// The claim stage: keel-init takes its state directory (init/core/state-claim.ts)
// before anything is written there, and after the machine stage has mounted
// /run. Refused (another keel-init runs with that directory), keel-init says
// so in one line and exits 1; a machine's PID 1 must not exit, and is the only
// keel of its machine, so it says so and goes on.
import { claimStateDir } from '../core/state-claim.js';
import type { EarlyBase } from './context.js';

export function claimStage({ bus, sys, args, machine, container }: EarlyBase): object {
  const dir = args.stateDir;
  const claim = claimStateDir(sys, dir, machine ? 'machine' : container ? 'container' : 'namespace');
  if (claim.kind === 'claimed') return {};
  if (claim.kind === 'unwritable' && !machine) {
    // Bad input, said as such: past here the log, runc's state and the socket would each fail with a stack trace.
    bus.emit({ kind: 'keel.claim', level: 'error', message: `the state directory ${dir} cannot be written (${claim.error}): keel keeps its log, runc's state, the bundles and keel.sock there, so it stops (exit 1). Give --state-dir a writable directory.` });
    process.exit(1);
  }
  if (claim.kind === 'failed' || claim.kind === 'unwritable') {
    bus.emit({ kind: 'keel.claim', level: 'warn', message: `could not claim the state directory ${dir} (${claim.error}); keel goes on, but would not notice another keel-init given the same --state-dir` });
    return {};
  }
  const who = `another keel-init${claim.holder ? ` (${claim.holder})` : ''}`;
  const shared = `${who} is running with the state directory ${dir}`;
  if (machine) {
    bus.emit({ kind: 'keel.claim', level: 'error', message: `${shared}: keel goes on (a machine's init does not exit), sharing its log, bundles and keel.sock; give the other keel its own --state-dir` });
    return {};
  }
  // Nothing of the directory was touched yet: the other keel's log, bundles and keel.sock stay its own.
  bus.emit({ kind: 'keel.claim', level: 'error', message: `${shared}, so this one stops (exit 1): two keels cannot share a log, bundles and keel.sock. Give each keel its own --state-dir.` });
  process.exit(1);
}
