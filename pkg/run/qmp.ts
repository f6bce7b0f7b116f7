// A minimal QMP client for keel run: enough to press the power button.
import { connect } from 'node:net';

/** Sends one QMP command (after the capabilities handshake); resolves when qemu answers. */
export function qmpCommand(socket: string, command: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolveDone, reject) => {
    const sock = connect(socket);
    let buf = '';
    let step = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`QMP ${command}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc: string } };
        if (msg.error) {
          clearTimeout(timer);
          sock.destroy();
          return reject(new Error(`QMP ${command}: ${msg.error.desc}`));
        }
        if (step === 0 && msg.QMP) {
          step = 1;
          sock.write('{"execute":"qmp_capabilities"}\n');
        } else if (step === 1 && msg.return !== undefined) {
          step = 2;
          sock.write(JSON.stringify({ execute: command }) + '\n');
        } else if (step === 2 && msg.return !== undefined) {
          clearTimeout(timer);
          sock.end();
          resolveDone();
        }
      }
    });
  });
}
