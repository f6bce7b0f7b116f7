// keel validate FILE...|-: each manifest checked on its own, then (with
// several) their merge as keel build reads them; as text, or with --json
// every problem as data an editor or CI can place: file, line, column, path.
import { readFileSync } from 'node:fs';
import type { ParsedArgs } from '../../api/commands/args.js';
import { formatProblem, ManifestError, manifestWarnings, parseManifest, type ManifestProblem } from '../../model/index.js';
import { mergeManifests, readManifestText, type ManifestText } from '../image/merge.js';
import { err, out } from './output.js';

/** What standard input is called in messages. */
const STDIN = '<stdin>';

interface Report {
  valid: boolean;
  files: Array<{ file: string; valid: boolean }>;
  problems: Array<{ file: string; line: number | null; column: number | null; path: string; message: string }>;
  warnings: Array<{ file: string; path: string; message: string }>;
}

const asJson = (p: ManifestProblem) => ({ file: p.file, line: p.line ?? null, column: p.column ?? null, path: p.field, message: p.message });

/** The files' texts; one that cannot be read is a problem of its own, and the others are still checked. */
function readAll(files: readonly string[], report: Report, problems: ManifestProblem[]): ManifestText[] {
  const texts: ManifestText[] = [];
  for (const f of files) {
    try {
      texts.push(f === '-' ? { file: STDIN, text: readFileSync(0, 'utf8'), dir: process.cwd() } : readManifestText(f));
    } catch (e) {
      if (!(e instanceof ManifestError)) throw e;
      problems.push(...e.problems);
      report.files.push({ file: e.file, valid: false });
    }
  }
  return texts;
}

function check(texts: readonly ManifestText[], report: Report, problems: ManifestProblem[]): void {
  for (const t of texts) {
    try {
      const m = parseManifest(t.text, t.file);
      for (const w of manifestWarnings(m)) report.warnings.push({ file: t.file, path: w.field, message: w.message });
      report.files.push({ file: t.file, valid: true });
    } catch (e) {
      if (!(e instanceof ManifestError)) throw e;
      problems.push(...e.problems);
      report.files.push({ file: t.file, valid: false });
    }
  }
  if (texts.length > 1 && problems.length === 0 && report.files.every((f) => f.valid)) {
    try {
      mergeManifests(texts);
    } catch (e) {
      if (!(e instanceof ManifestError)) throw e;
      problems.push(...e.problems);
      for (const f of report.files) if (e.problems.some((p) => p.file === f.file)) f.valid = false;
    }
  }
}

export function cmdValidate(args: ParsedArgs): number {
  const report: Report = { valid: true, files: [], problems: [], warnings: [] };
  const problems: ManifestProblem[] = [];
  check(readAll(args.positionals, report, problems), report, problems);
  report.problems = problems.map(asJson);
  report.valid = problems.length === 0;
  if (args.flag('json')) out(JSON.stringify(report, null, 2));
  else {
    for (const w of report.warnings) err(`${w.file}: warning: ${w.path}: ${w.message}`);
    for (const p of problems) err(formatProblem(p));
    for (const f of report.files) if (f.valid) out(`${f.file}: valid`);
  }
  return report.valid ? 0 : 1;
}
