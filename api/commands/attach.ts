// `keel exec NAME [CMD...]` and `keel console`: the local terminal attached
// to a pseudo-terminal on keel's side, through the control API's upgrade to a
// raw stream. The local terminal is raw while attached (ctrl-c is a byte for
// the remote program, not a signal here), and its size follows along.
import { call, callJson, upgrade } from '../client.js';
import type { TtyStatus } from '../wire.js';

function sizeQuery(): URLSearchParams {
  const q = new URLSearchParams({ term: process.env.TERM || 'xterm' });
  // A script (stdin not a terminal) gets plain pipes: its bytes come back untouched, without a terminal's \r\n.
  if (!process.stdin.isTTY) q.set('tty', '0');
  if (process.stdout.isTTY) {
    q.set('cols', String(process.stdout.columns || 80));
    q.set('rows', String(process.stdout.rows || 24));
  }
  return q;
}

/** `args`: for exec, the service's name and the command (its parsing is in control-specs.ts); none for console. */
export async function attach(verb: 'exec' | 'console', socket: string, args: readonly string[]): Promise<number> {
  const [name, ...cmd] = args;
  const q = sizeQuery();
  for (const c of cmd) q.append('cmd', c);
  const path = verb === 'console' ? `/v1/console?${q}` : `/v1/services/${encodeURIComponent(name!)}/exec?${q}`;
  const { stream, tty } = await upgrade(socket, path);

  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  let sent = 0;
  const onInput = (d: Buffer) => {
    sent += d.length;
    stream.write(d);
  };
  // The end of input is a side request that says after how many bytes, not a half-close of the
  // stream: a proxy or the VM channel may take a half-close for the end of the whole connection.
  // keel console is a terminal, where the end of input is ctrl-d, typed.
  const onEnd = () => {
    if (verb === 'console') stream.write('\x04');
    else void call(socket, 'POST', `/v1/ttys/${tty}/eof?bytes=${sent}`).catch(() => undefined);
  };
  stdin.on('data', onInput);
  stdin.on('end', onEnd);
  stdin.resume();
  stream.on('data', (d: Buffer) => process.stdout.write(d));
  const onResize = () => void call(socket, 'POST', `/v1/ttys/${tty}/resize?cols=${process.stdout.columns}&rows=${process.stdout.rows}`).catch(() => undefined);
  if (process.stdout.isTTY) process.stdout.on('resize', onResize);
  try {
    await new Promise<void>((resolve) => {
      stream.on('close', () => resolve());
      stream.on('error', () => resolve());
    });
  } finally {
    stdin.off('data', onInput);
    stdin.off('end', onEnd);
    stdin.pause();
    if (raw) stdin.setRawMode(false);
    process.stdout.off('resize', onResize);
  }
  if (verb === 'console') return 0;
  // How the program ended: its exit code, or 128 + the signal, as a shell reports it.
  const status = await callJson<TtyStatus>(socket, 'GET', `/v1/ttys/${tty}`).catch(() => undefined);
  if (!status) return 1;
  return status.signal ? 128 + status.signal : (status.exitCode ?? 1);
}
