// keel run -p/--publish, read as docker run -p reads it, and the qemu
// hostfwd rule each becomes.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { describeForward, hostfwd, parsePublish, portFree } from './ports.js';

describe('--publish', () => {
  it.each([
    ['8080:80', 'hostfwd=tcp:127.0.0.1:8080-:80', '127.0.0.1:8080->80/tcp'],
    ['8080:80/udp', 'hostfwd=udp:127.0.0.1:8080-:80', '127.0.0.1:8080->80/udp'],
    ['0.0.0.0:2222:22/TCP', 'hostfwd=tcp:0.0.0.0:2222-:22', '0.0.0.0:2222->22/tcp'],
    ['[::1]:8443:443', 'hostfwd=tcp:[::1]:8443-:443', '[::1]:8443->443/tcp'],
  ])('%s is %s', (spec, rule, shown) => {
    const p = parsePublish(spec);
    expect(hostfwd(p)).toBe(rule);
    expect(describeForward(p)).toBe(shown);
  });

  it.each([
    ['8080', /expected \[HOSTIP:\]HOSTPORT:GUESTPORT/],
    ['8080:80/sctp', /the protocol is tcp or udp, not "sctp"/],
    ['0:80', /host port "0" is not a port/],
    ['8080:70000', /guest port "70000" is not a port/],
    ['localhost:8080:80', /"localhost" is not an IP address/],
    ['a:b:c:d', /expected/],
  ])('refuses %s, saying why', (spec, why) => {
    expect(() => parsePublish(spec)).toThrow(why);
  });

  it('says when the host port is taken, before qemu would', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    expect(await portFree(parsePublish(`${port}:80`))).toBe(`127.0.0.1:${port}->80/tcp: port ${port} on 127.0.0.1 is in use`);
    await new Promise((r) => srv.close(r));
    expect(await portFree(parsePublish(`${port}:80`))).toBeUndefined();
  });
});
