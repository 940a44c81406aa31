// Node's own floor per idle connection (issue 17): a bare `net` server that answers
// CONNECT with CONNACK and PINGREQ with PINGRESP and keeps nothing else, so that the
// fleet scenarios measure what one socket costs any Node program with the same load:
//   node dist-bench/bench/net-floor-server.js PORT
// One listener per socket, as few as a program that reads its sockets can have.
import net from 'node:net';

const port = Number(process.argv[2]);
const CONNACK = Buffer.from([0x20, 2, 0, 0]);
const PINGRESP = Buffer.from([0xd0, 0]);
const PUBACK_HEAD = 0x40;

function onData(this: net.Socket, chunk: Buffer): void {
  // Whole small packets only (CONNECT, PINGREQ, a QoS 1 PUBLISH): enough for the floor.
  let p = 0;
  while (p + 1 < chunk.length) {
    let len = 0;
    let mul = 1;
    let i = p + 1;
    for (; i < chunk.length; i++) {
      len += (chunk[i]! & 0x7f) * mul;
      mul *= 128;
      if ((chunk[i]! & 0x80) === 0) break;
    }
    const type = chunk[p]! >> 4;
    if (type === 1) this.write(CONNACK);
    else if (type === 12) this.write(PINGRESP);
    else if (type === 3 && ((chunk[p]! >> 1) & 3) === 1) {
      const tl = chunk.readUInt16BE(i + 1);
      const id = chunk.readUInt16BE(i + 3 + tl);
      this.write(Buffer.from([PUBACK_HEAD, 2, id >> 8, id & 0xff]));
    }
    p = i + 1 + len;
  }
}
function ignore(): void {}

net
  .createServer((s) => {
    s.on('data', onData);
    s.on('error', ignore);
  })
  .listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
