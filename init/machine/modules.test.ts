// The order kernel modules load in: each after the modules it needs, several
// at once. finit_module itself runs in every VM boot (test/vm-*.test.ts);
// here `load` stands in for it so that the order and the overlap can be
// seen, which a real kernel does not show.
import { describe, expect, it } from 'vitest';
import { formatModuleList, parseModuleList } from '../../model/module-list.js';
import { loadInDependencyOrder } from './modules.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

/** Loads with a recorded start and end for each path; `fail` names paths whose load fails. */
function recorder(fail: string[] = []) {
  const events: string[] = [];
  let running = 0;
  let most = 0;
  const load = async (path: string) => {
    events.push(`start ${path}`);
    most = Math.max(most, ++running);
    await tick();
    running--;
    events.push(`end ${path}`);
    return fail.includes(path) ? { ms: 5, error: Object.assign(new Error(`${path}: Unknown symbol`), { code: 'ENOENT' }) } : { ms: 5 };
  };
  return { load, events, most: () => most };
}

describe('the kernel module list', () => {
  it('keeps each module with its dependencies, and a list without the header is read as one after another', () => {
    const text = formatModuleList([
      { path: '/m/virtio.ko', deps: [] },
      { path: '/m/virtio_net.ko', deps: ['/m/virtio.ko'] },
    ]);
    expect(parseModuleList(text)).toEqual([
      { path: '/m/virtio.ko', deps: [] },
      { path: '/m/virtio_net.ko', deps: ['/m/virtio.ko'] },
    ]);
    expect(parseModuleList('/m/a.ko\n/m/b.ko\n')).toEqual([
      { path: '/m/a.ko', deps: undefined },
      { path: '/m/b.ko', deps: undefined },
    ]);
  });
});

describe('loading in dependency order', () => {
  it('starts a module only once those it needs are in, runs independent ones together, and reports in list order', async () => {
    const list = parseModuleList(
      formatModuleList([
        { path: 'virtio', deps: [] },
        { path: 'virtio_pci', deps: ['virtio'] },
        { path: 'overlay', deps: [] },
        { path: 'llc', deps: [] },
        { path: 'stp', deps: ['llc'] },
        { path: 'bridge', deps: ['llc', 'stp'] },
        { path: 'evdev', deps: [] },
      ]),
    );
    const r = recorder(['overlay']);
    const results = await loadInDependencyOrder(list, r.load);
    const at = (e: string) => r.events.indexOf(e);
    expect(at('start virtio_pci')).toBeGreaterThan(at('end virtio'));
    expect(at('start stp')).toBeGreaterThan(at('end llc'));
    expect(at('start bridge')).toBeGreaterThan(at('end stp'));
    // virtio, overlay, llc and evdev need nothing: they overlap, four at a time at most.
    expect(r.most()).toBe(4);
    expect(results.map((x) => x.error?.message)).toEqual([undefined, undefined, 'overlay: Unknown symbol', undefined, undefined, undefined, undefined]);
  });

  it('still tries a module whose dependency failed, so that its own error is reported', async () => {
    const list = parseModuleList(formatModuleList([{ path: 'libata', deps: [] }, { path: 'ata_piix', deps: ['libata'] }]));
    const r = recorder(['libata', 'ata_piix']);
    const results = await loadInDependencyOrder(list, r.load);
    expect(r.events).toEqual(['start libata', 'end libata', 'start ata_piix', 'end ata_piix']);
    expect(results.every((x) => x.error)).toBe(true);
  });

  it('loads a list that does not name dependencies one module after another', async () => {
    const r = recorder();
    await loadInDependencyOrder(parseModuleList('a\nb\nc\n'), r.load);
    expect(r.events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(r.most()).toBe(1);
  });

  it('settles at once for an empty list', async () => {
    expect(await loadInDependencyOrder([], recorder().load)).toEqual([]);
  });
});
