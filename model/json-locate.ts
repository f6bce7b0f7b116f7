// Where a value is written in JSON text, for the line and column of a
// problem in a JSON manifest: JSON.parse keeps no positions. One scan from
// the start along the path, skipping the values beside it; the text has
// already parsed, so it is well-formed.
import type { Path } from './schema.js';

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  return i;
}

/** The index just past the string that opens at i. */
function stringEnd(text: string, i: number): number {
  let j = i + 1;
  while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
  return j + 1;
}

/** The index just past the value that starts at i. */
function valueEnd(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return stringEnd(text, i);
  if (c !== '{' && c !== '[') {
    while (i < text.length && !',]} \n\r\t'.includes(text[i]!)) i++;
    return i;
  }
  // A list or an object: count brackets (iteratively: nesting may be deep), stepping over strings.
  let depth = 0;
  let j = i;
  do {
    const d = text[j];
    if (d === '"') j = stringEnd(text, j);
    else {
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') depth--;
      j++;
    }
  } while (depth > 0 && j < text.length);
  return j;
}

/** The offset of the value at `path` (of its key, with atKey), or of the deepest value on the way that exists. */
export function jsonOffset(text: string, path: Path, atKey: boolean): number {
  let i = skipSpace(text, 0);
  for (let depth = 0; depth < path.length; depth++) {
    const want = path[depth]!;
    const found = text[i] === '{' ? memberOffset(text, i, String(want)) : text[i] === '[' && typeof want === 'number' ? itemOffset(text, i, want) : undefined;
    if (found === undefined) return i;
    if (atKey && depth === path.length - 1 && found.key !== undefined) return found.key;
    i = found.value;
  }
  return i;
}

function memberOffset(text: string, open: number, want: string): { key: number; value: number } | undefined {
  let i = skipSpace(text, open + 1);
  while (text[i] === '"') {
    const end = stringEnd(text, i);
    const name = JSON.parse(text.slice(i, end)) as string;
    const value = skipSpace(text, skipSpace(text, end) + 1); // past the ":"
    if (name === want) return { key: i, value };
    i = skipSpace(text, valueEnd(text, value));
    if (text[i] === ',') i = skipSpace(text, i + 1);
  }
  return undefined;
}

function itemOffset(text: string, open: number, want: number): { key?: undefined; value: number } | undefined {
  let i = skipSpace(text, open + 1);
  for (let k = 0; k < want; k++) {
    i = skipSpace(text, valueEnd(text, i));
    if (text[i] !== ',') return undefined;
    i = skipSpace(text, i + 1);
  }
  return text[i] === ']' ? undefined : { value: i };
}

/** 1-based line and column of an offset. */
export function linePosition(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
