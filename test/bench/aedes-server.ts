// Aedes over a plain net server, as a child process of the benchmark:
//   node dist-bench/bench/aedes-server.js PORT nodelay|delay [BCRYPT_PASSWORD_FILE]
// The optional password file holds `user:$2b$...` lines checked with bcryptjs.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Aedes } from 'aedes';
import bcrypt from 'bcryptjs';

const port = Number(process.argv[2]);
const noDelay = process.argv[3] === 'nodelay';
const passwordFile = process.argv[4];
const hashes = new Map<string, string>();
if (passwordFile) {
  for (const line of readFileSync(passwordFile, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) hashes.set(line.slice(0, i), line.slice(i + 1).trim());
  }
}

const broker = await Aedes.createBroker();
if (passwordFile) {
  broker.authenticate = (_client, username, password, done) => {
    const hash = username === undefined ? undefined : hashes.get(username);
    if (hash === undefined || password === undefined) {
      done(null, false);
      return;
    }
    bcrypt.compare(password.toString(), hash).then(
      (ok) => done(null, ok),
      () => done(null, false),
    );
  };
}
const server = net.createServer({ noDelay }, broker.handle);
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
