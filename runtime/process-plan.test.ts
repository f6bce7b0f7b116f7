// A process entry's plan: whom it runs as and with what HOME. It reads this
// machine's /etc/passwd, as keel-init reads its root's.
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../model/index.js';
import { planProcess } from './process-plan.js';
import { readPasswd } from './users.js';

const entry = (extra: string) => parseManifest(`services:\n  - name: p\n    kind: process\n    command: [sh]\n${extra.replace(/^/gm, '    ')}\n`, 'keel.yml').services[0]!;
const env = (plan: { env: string[] }, name: string) => plan.env.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
const base = { PATH: '/usr/bin:/bin', HOME: '/root' };

describe('planProcess', () => {
  it('runs an entry with no uid, gid or groups as keel runs, with the HOME keel has', () => {
    const plan = planProcess('p', entry(''), base);
    expect(plan.user).toBeUndefined();
    expect(plan.ids).toEqual({ uid: process.getuid!(), gid: process.getgid!() });
    expect(env(plan, 'HOME')).toBe('/root');
  });

  it('gives an entry that switches user that user\'s HOME over the one keel inherited, unless its env sets one', () => {
    const nobody = readPasswd().find((p) => p.name === 'nobody')!;
    const plan = planProcess('p', entry('uid: nobody'), base);
    expect(plan.user).toMatchObject({ uid: nobody.uid });
    expect(env(plan, 'HOME')).toBe(nobody.home);
    expect(env(planProcess('p', entry('uid: nobody\nenv: [HOME=/srv]'), base), 'HOME')).toBe('/srv');
  });
});
