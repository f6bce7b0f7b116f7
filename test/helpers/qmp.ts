// A minimal QMP client: enough to send keys and commands to a test VM.
import { connect, type Socket } from 'node:net';

export class Qmp {
  private buffer = '';
  private waiters: Array<(msg: Record<string, unknown>) => void> = [];
  private constructor(private readonly socket: Socket) {
    socket.on('data', (d) => {
      this.buffer += d.toString();
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as Record<string, unknown>;
        if ('event' in msg) continue; // asynchronous events are not replies
        this.waiters.shift()?.(msg);
      }
    });
  }

  static async open(path: string, ms = 30_000): Promise<Qmp> {
    const end = Date.now() + ms;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path, () => resolve(s));
          s.once('error', reject);
        });
        const qmp = new Qmp(socket);
        await qmp.next(); // greeting
        await qmp.command('qmp_capabilities');
        return qmp;
      } catch (err) {
        if (Date.now() > end) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async command(execute: string, args?: Record<string, unknown>): Promise<Record<string, unknown>> {
    const reply = this.next();
    this.socket.write(JSON.stringify({ execute, ...(args ? { arguments: args } : {}) }) + '\n');
    const msg = await reply;
    if ('error' in msg) throw new Error(`QMP ${execute}: ${JSON.stringify(msg.error)}`);
    return msg;
  }

  sendKeys(...keys: string[]): Promise<Record<string, unknown>> {
    return this.command('send-key', { keys: keys.map((k) => ({ type: 'qcode', data: k })) });
  }

  close(): void {
    this.socket.destroy();
  }
}
