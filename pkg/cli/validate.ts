// keel validate FILE...|-: each manifest checked on its own, then (with
// several) their merge as keel build reads them; as text, or with --json
// every problem as data an editor or CI can place: file, line, column, path.
import { readFileSync } from 'node:fs';
import type { ParsedArgs } from '../../api/commands/args.js';
import { ManifestError, manifestWarnings, parseManifest, type ManifestProblem } from '../../model/index.js';
import { mergeManifests, readManifestText, type ManifestText } from '../image/merge.js';
import { err, out } from './output.js';

/** What standard input is called in messages. */
const STDIN = '<stdin>';

interface Report {
  valid: boolean;
  /** moreProblems: how many problems past the first MAX_PROBLEMS of a file were counted, not listed. */
  files: Array<{ file: string; valid: boolean; moreProblems?: number }>;
  problems: Array<{ file: string; line: number | null; column: number | null; path: string; message: string }>;
  warnings: Array<{ file: string; path: string; message: string }>;
}

const asJson = (p: ManifestProblem) => ({ file: p.file, line: p.line ?? null, column: p.column ?? null, path: p.field, message: p.message });

/** The problems found, as data, and as the lines keel prints for them (the ManifestErrors' messages, which count what they do not list). */
interface Found {
  problems: ManifestProblem[];
  lines: string[];
}

function found(into: Found, e: ManifestError): void {
  into.problems.push(...e.problems);
  into.lines.push(e.message);
}

/** The files' texts; one that cannot be read is a problem of its own, and the others are still checked. */
function readAll(files: readonly string[], report: Report, problems: Found): ManifestText[] {
  const texts: ManifestText[] = [];
  for (const f of files) {
    try {
      texts.push(f === '-' ? { file: STDIN, text: readFileSync(0, 'utf8'), dir: process.cwd() } : readManifestText(f));
    } catch (e) {
      if (!(e instanceof ManifestError)) throw e;
      found(problems, e);
      report.files.push({ file: e.file, valid: false });
    }
  }
  return texts;
}

function check(texts: readonly ManifestText[], report: Report, problems: Found): void {
  for (const t of texts) {
    try {
      const m = parseManifest(t.text, t.file);
      for (const w of manifestWarnings(m)) report.warnings.push({ file: t.file, path: w.field, message: w.message });
      report.files.push({ file: t.file, valid: true });
    } catch (e) {
      if (!(e instanceof ManifestError)) throw e;
      found(problems, e);
      report.files.push({ file: t.file, valid: false, ...(e.more > 0 ? { moreProblems: e.more } : {}) });
    }
  }
  if (texts.length > 1 && problems.problems.length === 0 && report.files.every((f) => f.valid)) {
    try {
      mergeManifests(texts);
    } catch (e) {
      if (!(e instanceof ManifestError)) throw e;
      found(problems, e);
      for (const f of report.files) if (e.problems.some((p) => p.file === f.file)) f.valid = false;
    }
  }
}

export function cmdValidate(args: ParsedArgs): number {
  const report: Report = { valid: true, files: [], problems: [], warnings: [] };
  const problems: Found = { problems: [], lines: [] };
  check(readAll(args.positionals, report, problems), report, problems);
  report.problems = problems.problems.map(asJson);
  report.valid = problems.lines.length === 0;
  if (args.flag('json')) out(JSON.stringify(report, null, 2));
  else {
    for (const w of report.warnings) err(`${w.file}: warning: ${w.path}: ${w.message}`);
    for (const line of problems.lines) err(line);
    for (const f of report.files) if (f.valid) out(`${f.file}: valid`);
  }
  return report.valid ? 0 : 1;
}
