// No product function is longer than 60 lines, unless the comment just above
// it says why (a line containing "long:"). Functions are found by a small
// scanner: each "{" that opens a function or method body, matched to its
// "}", with strings, templates, comments and regular expressions skipped.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { productFiles, REPO } from './helpers/sources.js';

const LIMIT = 60;

/** The text with every string, template, comment and regex replaced by spaces (newlines kept). */
export function codeOnly(text: string): string {
  let out = '';
  let i = 0;
  const blank = (s: string) => s.replace(/[^\n]/g, ' ');
  let lastSignificant = '';
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    let end = -1;
    if (c === '/' && next === '/') end = text.indexOf('\n', i) === -1 ? text.length : text.indexOf('\n', i);
    else if (c === '/' && next === '*') end = text.indexOf('*/', i + 2) + 2;
    else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      let depth = 0;
      while (j < text.length) {
        if (text[j] === '\\') j += 2;
        else if (c === '`' && text[j] === '$' && text[j + 1] === '{') (depth++, (j += 2));
        else if (c === '`' && depth > 0 && text[j] === '}') (depth--, j++);
        else if (text[j] === c && depth === 0) break;
        else j++;
      }
      end = j + 1;
    } else if (c === '/' && /[(,=:[!&|?{};]$|^$|return$/.test(lastSignificant)) {
      // A regular expression literal: it can only follow an operator or the start of an expression.
      let j = i + 1;
      let inClass = false;
      while (j < text.length && text[j] !== '\n') {
        if (text[j] === '\\') j += 2;
        else if (text[j] === '[') (inClass = true), j++;
        else if (text[j] === ']') (inClass = false), j++;
        else if (text[j] === '/' && !inClass) break;
        else j++;
      }
      end = j + 1;
    }
    if (end > i) {
      out += blank(text.slice(i, end));
      i = end;
      lastSignificant = 'x';
      continue;
    }
    out += c;
    if (!/\s/.test(c)) lastSignificant = /[A-Za-z0-9_$]/.test(c) ? (/[A-Za-z0-9_$]$/.test(lastSignificant) ? lastSignificant + c : c) : c;
    i++;
  }
  return out;
}

const CONTROL = /^\s*(?:}\s*)?(if|for|while|switch|catch|else|do|try|finally)\b/;

/** Each function body in a file: its first line and how many lines it spans. */
export function functionBodies(text: string): Array<{ line: number; lines: number; header: string }> {
  const code = codeOnly(text);
  const stack: Array<{ at: number; fn: boolean; header: string }> = [];
  const out: Array<{ line: number; lines: number; header: string }> = [];
  let stmtStart = 0;
  const lineOf = (pos: number) => code.slice(0, pos).split('\n').length;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === '{') {
      const header = code.slice(stmtStart, i).replace(/\s+/g, ' ').trim();
      const fn = !CONTROL.test(header) && (/\bfunction\b/.test(header) || /=>$/.test(header) || /\)\s*(:\s*[^=;]+)?$/.test(header));
      stack.push({ at: i, fn, header });
      stmtStart = i + 1;
    } else if (c === '}') {
      const open = stack.pop();
      if (open?.fn) out.push({ line: lineOf(open.at), lines: lineOf(i) - lineOf(open.at) + 1, header: open.header.slice(-80) });
      stmtStart = i + 1;
    } else if (c === ';') stmtStart = i + 1;
  }
  return out;
}

describe('function length', () => {
  it('finds function bodies and not other blocks', () => {
    const sample = "function a(x: number): string {\n  if (x) {\n    return '}';\n  }\n  const o = { k: 1 };\n  return `${x}`;\n}\nclass C {\n  m(): void {\n    const f = (y: number) => {\n      return /[{]/.test(String(y));\n    };\n  }\n}\n";
    expect(functionBodies(sample).map((f) => [f.line, f.lines])).toEqual([[1, 7], [10, 3], [9, 5]]);
  });

  it(`keeps every product function within ${LIMIT} lines, or says why above it`, () => {
    const long: string[] = [];
    for (const file of productFiles().filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(join(REPO, file), 'utf8');
      const lines = text.split('\n');
      for (const f of functionBodies(text)) {
        if (f.lines <= LIMIT) continue;
        const above = lines.slice(Math.max(0, f.line - 4), f.line).join('\n');
        if (!/long:/.test(above)) long.push(`${file}:${f.line}: ${f.lines} lines (${f.header})`);
      }
    }
    expect(long).toEqual([]);
  });
});
