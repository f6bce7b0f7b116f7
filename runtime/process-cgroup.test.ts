import { describe, expect, it } from 'vitest';
import { resourcesSpec } from '../model/container.js';
import { PROCESS_LIMITS } from '../model/warnings.js';
import { limitFiles, type Resources } from './process-cgroup.js';

// model/warnings.ts says which resources a process entry's cgroup takes, so
// that keel validate can warn of the rest; limitFiles is what takes them.
// The two lists are kept apart by the layer rule (model cannot import
// runtime): this test keeps them the same.

/** A value for each resources field a process's cgroup does not set; a field the schema gains must be added here or to PROCESS_LIMITS. */
const NOT_APPLIED: Record<string, Resources> = {
  'memory.kernel': { memory: { kernel: 1 << 20 } },
  'memory.kernelTCP': { memory: { kernelTCP: 1 << 20 } },
  'memory.swappiness': { memory: { swappiness: 10 } },
  'memory.disableOOMKiller': { memory: { disableOOMKiller: true } },
  'cpu.realtimeRuntime': { cpu: { realtimeRuntime: 1000 } },
  'cpu.realtimePeriod': { cpu: { realtimePeriod: 1000 } },
  'blockIO.leafWeight': { blockIO: { leafWeight: 100 } },
  'blockIO.weightDevice': { blockIO: { weightDevice: [{ major: 8, minor: 0, weight: 100 }] } },
  'blockIO.throttleReadBpsDevice': { blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }] } },
  'blockIO.throttleWriteBpsDevice': { blockIO: { throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 1 }] } },
  'blockIO.throttleReadIOPSDevice': { blockIO: { throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 1 }] } },
  'blockIO.throttleWriteIOPSDevice': { blockIO: { throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 1 }] } },
  devices: { devices: [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }] },
  'network.classID': { network: { classID: 7 } },
  'network.priorities': { network: { priorities: [{ name: 'eth0', priority: 1 }] } },
};

/** A value for each field PROCESS_LIMITS names, with what cgroup v2 writes it beside. */
const APPLIED: Record<string, Resources> = {
  'memory.limit': { memory: { limit: 1 << 26 } },
  'memory.reservation': { memory: { reservation: 1 << 25 } },
  'memory.swap': { memory: { limit: 1 << 26, swap: 1 << 27 } },
  'cpu.quota': { cpu: { quota: 50_000 } },
  'cpu.period': { cpu: { quota: 50_000, period: 200_000 } },
  'cpu.shares': { cpu: { shares: 512 } },
  'cpu.cpus': { cpu: { cpus: '0' } },
  'cpu.mems': { cpu: { mems: '0' } },
  pids: { pids: { limit: 10 } },
  'blockIO.weight': { blockIO: { weight: 100 } },
};

/** Every resources field the manifest takes (its JSON Schema's), as GROUP.FIELD, or GROUP for a list or a group PROCESS_LIMITS takes whole. */
function schemaFields(): string[] {
  const groups = (resourcesSpec.jsonSchema() as { properties: Record<string, { properties?: Record<string, unknown> }> }).properties;
  return Object.entries(groups)
    .filter(([group]) => group !== 'blockio' && group !== 'hugepageLimits') // blockIO's other spelling; refused
    .flatMap(([group, s]) => (s.properties && PROCESS_LIMITS[group] !== true ? Object.keys(s.properties).map((f) => `${group}.${f}`) : [group]));
}

describe("a process entry's cgroup limits", () => {
  it('cover every resources field, each either set by limitFiles or warned of by keel validate', () => {
    expect(schemaFields().sort()).toEqual([...Object.keys(APPLIED), ...Object.keys(NOT_APPLIED)].sort());
    const listed = Object.entries(PROCESS_LIMITS).flatMap(([group, fields]) => (fields === true ? [group] : fields.map((f) => `${group}.${f}`)));
    expect(listed.sort()).toEqual(Object.keys(APPLIED).sort());
  });

  it('are written by limitFiles for each field PROCESS_LIMITS names, and for none of the others', () => {
    for (const [field, resources] of Object.entries(APPLIED)) {
      const files = limitFiles(resources);
      // period has no file of its own: it is cpu.max's second number.
      if (field === 'cpu.period') expect(files, field).toContainEqual(['cpu.quota', 'cpu.max', '50000 200000']);
      else expect(files.map(([name]) => name), field).toContain(field === 'pids' ? 'pids.limit' : field);
    }
    for (const [field, resources] of Object.entries(NOT_APPLIED)) expect(limitFiles(resources), field).toEqual([]);
  });
});
