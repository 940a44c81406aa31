/**
 * A free loopback port: bind port 0, read the port the system chose, let it go; never
 * 1883, which a test must not take from the machine's own broker. One copy for the
 * vitest helpers (helpers/mosquitto.ts), the reliability drivers and the benchmark:
 * test/reliability/tsconfig.json and test/bench/tsconfig.json compile it with their own
 * files (rootDir test/), so it imports nothing but Node.
 */
import net from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => (port === 1883 ? freePort().then(resolve, reject) : resolve(port)));
    });
  });
}
