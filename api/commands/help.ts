// A verb's --help and the `keel help` summary, written from the verb table
// (verb-spec.ts): the synopsis, the options with their defaults and values,
// and one example.
import { allOptions, type OptionSpec, type VerbSpec } from './verb-spec.js';

const WIDTH = 96;

/** Words filled into lines of at most `width` columns. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** "keel [--vm VM] logs [options] NAME": how the verb is written. */
export function synopsis(spec: VerbSpec): string {
  const options = allOptions(spec).length > 1; // more than --help
  return `keel ${spec.control ? '[--vm VM] ' : ''}${spec.name}${options ? ' [options]' : ''}${spec.args ? ` ${spec.args}` : ''}`;
}

function optionHead(o: OptionSpec): string {
  const names = `${o.short ? `-${o.short}, ` : '    '}--${o.name}`;
  return o.value ? `${names} ${o.value}` : names;
}

function optionText(o: OptionSpec): string {
  const extra = [
    o.choices ? `one of ${o.choices.join(', ')}` : '',
    o.default !== undefined ? `default ${o.default}` : '',
    o.multiple ? 'may be repeated' : '',
  ].filter(Boolean);
  return extra.length ? `${o.help} (${extra.join('; ')})` : o.help;
}

export function verbHelp(spec: VerbSpec): string {
  const options = allOptions(spec);
  const headWidth = Math.min(30, Math.max(...options.map((o) => optionHead(o).length)) + 2);
  const optionLines = options.map((o) => {
    const head = optionHead(o);
    const pad = ' '.repeat(2 + headWidth);
    const text = wrap(optionText(o), WIDTH - pad.length).join(`\n${pad}`);
    return head.length + 2 > headWidth ? `  ${head}\n${pad}${text}` : `  ${head.padEnd(headWidth)}${text}`;
  });
  return [
    `usage: ${synopsis(spec)}`,
    '',
    ...wrap(spec.description, WIDTH),
    '',
    'options:',
    ...optionLines,
    '',
    'example:',
    ...spec.example.split('\n').map((l) => `  ${l}`),
    '',
  ].join('\n');
}

/** `keel help`: every verb on a line of its own, host verbs first. */
export function summaryHelp(verbs: readonly VerbSpec[]): string {
  const line = (v: VerbSpec) => {
    const head = `  ${v.name}${v.args ? ` ${v.args}` : ''}`;
    return head.length + 2 > 30 ? `${head}\n${' '.repeat(30)}${v.summary}` : `${head.padEnd(30)}${v.summary}`;
  };
  return [
    'usage: keel COMMAND [options] [ARGS]    ("keel help COMMAND" for one command\'s options)',
    '',
    'Build and boot images, on the host:',
    ...verbs.filter((v) => !v.control).map(line),
    '',
    'On a running keel (--socket PATH, $KEEL_SOCKET, else /run/keel/keel.sock),',
    'or on a VM that keel run started, as "keel --vm VM COMMAND":',
    ...verbs.filter((v) => v.control).map(line),
    '',
  ].join('\n');
}
