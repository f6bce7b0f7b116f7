import { describe, expect, it } from 'vitest';
import { parseManifest } from '../model/index.js';
import { startPriorities } from './start-priority.js';

const services = (yaml: string) => parseManifest(`services:\n${yaml}`, 'keel.yml').services;
const svc = (name: string, deps: string[] = []) => `  - name: ${name}\n    image: /img\n${deps.length ? `    dependsOn: [${deps.join(', ')}]\n` : ''}`;

describe('start priorities', () => {
  it('are the longest chain of services waiting on each, directly or through others', () => {
    // app waits on api and auth; api on db and cache; auth on db. Nothing waits on app or tool.
    const p = startPriorities(services(svc('app', ['api', 'auth']) + svc('api', ['db', 'cache']) + svc('auth', ['db']) + svc('db') + svc('cache') + svc('tool')));
    expect(Object.fromEntries(p)).toEqual({ app: 0, api: 1, auth: 1, db: 2, cache: 2, tool: 0 });
  });

  it('measure a chain of 20,000', () => {
    // Built from one parsed entry: 20,000 services written as above are more than the 1 MiB of YAML a manifest may be.
    const [template] = services(svc('s0'));
    const n = 20_000;
    const entries = Array.from({ length: n }, (_, i) => ({ ...template!, name: `s${i}`, dependsOn: i > 0 ? [{ name: `s${i - 1}`, condition: 'ready' as const }] : [] }));
    const p = startPriorities(entries);
    expect(p.get('s0')).toBe(n - 1);
    expect(p.get(`s${n - 1}`)).toBe(0);
  });
});
