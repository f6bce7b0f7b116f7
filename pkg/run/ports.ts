// keel run -p/--publish: a host port forwarded into the guest, written as
// docker run -p writes it ([HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]), made into
// a hostfwd rule of qemu's user-mode network. The host address is 127.0.0.1
// unless given: a VM's services are the host's own until someone says
// otherwise.
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { createServer } from 'node:net';

export interface PortForward {
  protocol: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  guestPort: number;
}

/** Why a --publish value is wrong, for the CLI to say as a usage error. */
export class PortSpecError extends Error {}

function port(text: string, what: string, spec: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new PortSpecError(`--publish ${spec}: ${what} ${JSON.stringify(text)} is not a port (1-65535)`);
  return n;
}

export function parsePublish(spec: string): PortForward {
  const slash = spec.lastIndexOf('/');
  const proto = slash >= 0 ? spec.slice(slash + 1).toLowerCase() : 'tcp';
  if (proto !== 'tcp' && proto !== 'udp') throw new PortSpecError(`--publish ${spec}: the protocol is tcp or udp, not ${JSON.stringify(proto)}`);
  const body = slash >= 0 ? spec.slice(0, slash) : spec;
  // An IPv6 host address is bracketed, as docker takes it: [::1]:8080:80.
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:]+):)?([^:]+):([^:]+)$/.exec(body);
  if (!m) throw new PortSpecError(`--publish ${spec}: expected [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp], as in 8080:80 or 127.0.0.1:8080:80/tcp`);
  const hostIp = (m[1] ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1');
  if (!isIP(hostIp)) throw new PortSpecError(`--publish ${spec}: ${JSON.stringify(hostIp)} is not an IP address of this host`);
  return { protocol: proto, hostIp, hostPort: port(m[2]!, 'host port', spec), guestPort: port(m[3]!, 'guest port', spec) };
}

/** qemu's user-network option for one forward: the guest's address left empty is the guest's own (10.0.2.15). */
export function hostfwd(p: PortForward): string {
  const host = p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp;
  return `hostfwd=${p.protocol}:${host}:${p.hostPort}-:${p.guestPort}`;
}

/** Docker's way of writing a forward, as keel --vm VM inspect shows it. */
export function describeForward(p: PortForward): string {
  const host = p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp;
  return `${host}:${p.hostPort}->${p.guestPort}/${p.protocol}`;
}

/** Whether the host port can be had now; qemu would otherwise stop with a terse "could not set up host forwarding rule". */
export function portFree(p: PortForward): Promise<string | undefined> {
  return new Promise((resolve) => {
    const busy = (err: NodeJS.ErrnoException) => resolve(`${describeForward(p)}: ${err.code === 'EADDRINUSE' ? `port ${p.hostPort} on ${p.hostIp} is in use` : err.message}`);
    if (p.protocol === 'udp') {
      const s = createSocket(p.hostIp.includes(':') ? 'udp6' : 'udp4');
      s.once('error', busy);
      s.bind(p.hostPort, p.hostIp, () => s.close(() => resolve(undefined)));
      return;
    }
    const srv = createServer();
    srv.once('error', busy);
    srv.listen(p.hostPort, p.hostIp, () => srv.close(() => resolve(undefined)));
  });
}
