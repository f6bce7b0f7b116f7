import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../model/index.js';
import { bootPlan } from './plan.js';

describe('boot plan', () => {
  it('names the manifest, the onboot order, and each service with its dependencies, limits and policy', () => {
    const text = `onboot:
  - {name: net, image: /i, timeout: 30s, critical: true}
  - {name: sysctl, image: /i}
services:
  - {name: db, image: /i, ready: {exec: [test, -f, /ok]}, resources: {memory: {limit: 64m}}}
  - {name: web, image: /i, restart: on-failure:3, dependsOn: [db, {name: cache, condition: started}]}
  - {name: cache, image: /i, notify: true, watchdogSec: 5s, resources: {pids: {limit: 50}}}
onshutdown:
  - {name: save, image: /i}
`;
    const plan = bootPlan(parseManifest(text, 'k.yml'), text, '/etc/keel/manifest.json').split('\n');
    expect(plan[0]).toMatch(/^plan: manifest \/etc\/keel\/manifest\.json sha256:[0-9a-f]{12}: 2 onboot, 3 service\(s\), 1 onshutdown$/);
    expect(plan).toEqual([
      plan[0],
      'onboot, in order: net (timeout 30s) (critical) -> sysctl',
      'service db (restart always; ready: exec probe; memory 64 MiB)',
      'service web (restart on-failure:3; after db, cache started)',
      'service cache (restart always; ready: sd_notify, watchdog 5s; pids 50)',
      'onshutdown, in order: save',
    ]);
  });
});
