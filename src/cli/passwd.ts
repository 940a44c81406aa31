/**
 * ts-mosquitto_passwd: mosquitto_passwd 2.0's command line, messages and exit codes, with
 * bcrypt as the default hash (issue 4) besides Mosquitto's sha512-pbkdf2 and sha512.
 *
 * The arguments are parsed by hand: mosquitto_passwd stops at the first word that is not
 * one of its flags and then counts what is left, and its errors name the flag that lacks
 * arguments; commander cannot reproduce those messages.
 *
 * Differences from mosquitto_passwd, all in the direction of not losing data:
 * - a corrupt line stops the run (exit 1, file untouched) instead of being dropped;
 * - comment and blank lines are kept;
 * - -U leaves lines that already hold a hash alone instead of hashing the hash;
 * - every change goes to a temporary file renamed into place; a new file is mode 0600.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_HASH_KIND, type HashKind, hashPassword, isHashKind, parseHash } from '../passwd/hash.js';
import {
  deleteUser,
  emptyPasswdFile,
  entries,
  parsePasswdText,
  passwordProblem,
  type PasswdFile,
  replaceSecret,
  serializePasswdFile,
  setUser,
  usernameProblem,
} from '../passwd/file.js';
import { errnoText, writeFileAtomic } from '../passwd/file-io.js';
import { PasswordReader } from '../passwd/prompt.js';
import { errorLine, writeErr, writeOut } from './terminal.js';

const PROG = 'ts-mosquitto_passwd';

export function passwdUsage(p: string = PROG): string {
  return `${p} is a tool for managing password files for ts-mosquitto and mosquitto.

Usage: ${p} [-H bcrypt | -H sha512 | -H sha512-pbkdf2] [-c | -D] passwordfile username
       ${p} [-H bcrypt | -H sha512 | -H sha512-pbkdf2] [-c] -b passwordfile username password
       ${p} -U passwordfile
 -b : run in batch mode to allow passing passwords on the command line.
 -c : create a new password file. This will overwrite existing files.
 -D : delete the username rather than adding/updating its password.
 -H : specify the hashing algorithm. Defaults to bcrypt. sha512-pbkdf2 is the
      default of Mosquitto 2.0, Mosquitto 1.6 and earlier used sha512.
 -U : update a plain text password file to use hashed passwords.

See https://mosquitto.org/ for more information.
`;
}

/** An ending with a message for stderr (Mosquitto's words) and an exit code. */
class Exit {
  constructor(
    readonly code: number,
    readonly message?: string,
  ) {}
}

type Command =
  | { op: 'usage' }
  | { op: 'create'; file: string; user: string; password?: string; hash: HashKind }
  | { op: 'set'; file: string; user: string; password?: string; hash: HashKind }
  | { op: 'delete'; file: string; user: string }
  | { op: 'update'; file: string; hash: HashKind };

/** mosquitto_passwd's argument rules, message for message. */
export function parsePasswdArgs(args: string[]): Command | Exit {
  if (args.length === 0) return { op: 'usage' };
  let hash: HashKind = DEFAULT_HASH_KIND;
  let batch = false;
  let create = false;
  let del = false;
  let update = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '-H') {
      if (i + 1 === args.length) return new Exit(1, 'Error: -H argument given but not enough other arguments.');
      const kind = args[++i];
      if (!isHashKind(kind)) return new Exit(1, `Error: Unknown hash type '${kind}'`);
      hash = kind;
    } else if (a === '-b') batch = true;
    else if (a === '-c') create = true;
    else if (a === '-D') del = true;
    else if (a === '-U') update = true;
    else break;
  }
  if (create && del) return new Exit(1, 'Error: -c and -D cannot be used together.');
  if (create && update) return new Exit(1, 'Error: -c and -U cannot be used together.');
  if (del && update) return new Exit(1, 'Error: -D and -U cannot be used together.');
  if (del && batch) return new Exit(1, 'Error: -b and -D cannot be used together.');
  const rest = args.length - i;
  if (create) {
    if (batch) {
      if (rest < 3) return new Exit(1, 'Error: -c argument given but password file, username, or password missing.');
      return { op: 'create', file: args[i], user: args[i + 1], password: args[i + 2], hash };
    }
    if (rest < 2) return new Exit(1, 'Error: -c argument given but password file or username missing.');
    return { op: 'create', file: args[i], user: args[i + 1], hash };
  }
  if (del) {
    if (rest < 2) return new Exit(1, 'Error: -D argument given but password file or username missing.');
    return { op: 'delete', file: args[i], user: args[i + 1] };
  }
  if (update) {
    if (rest !== 1) return new Exit(1, 'Error: -U argument given but password file missing.');
    return { op: 'update', file: args[i], hash };
  }
  if (batch && rest === 3) return { op: 'set', file: args[i], user: args[i + 1], password: args[i + 2], hash };
  if (!batch && rest === 2) return { op: 'set', file: args[i], user: args[i + 1], hash };
  return { op: 'usage' };
}

function readPasswdFile(path: string): PasswdFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Exit(1, `Error: Unable to open password file ${path}. ${errnoText(err)}.`);
  }
  const parsed = parsePasswdText(text);
  if (!parsed.ok) throw new Exit(1, `Error: Corrupt password file at line ${parsed.line}.`);
  return parsed.file;
}

function writePasswdFile(path: string, file: PasswdFile): void {
  try {
    writeFileAtomic(path, serializePasswdFile(file));
  } catch (err) {
    throw new Exit(1, `Error: Unable to open file ${path} for writing. ${errnoText(err)}.`);
  }
}

/** Interactive mode: ask twice without echo; Mosquitto exits 1 on empty, 2 on mismatch. */
async function askPassword(): Promise<string> {
  const reader = new PasswordReader();
  try {
    const first = await reader.read('Password: ', writeOut);
    if (first === null || first.length === 0) throw new Exit(1, 'Error: Empty password.');
    const second = await reader.read('Reenter password: ', writeOut);
    if (second === null || second.length === 0) throw new Exit(1, 'Error: Empty password.');
    if (first !== second) throw new Exit(2, 'Error: Passwords do not match.');
    return first;
  } finally {
    reader.close();
  }
}

async function newSecret(password: string | undefined, hash: HashKind): Promise<string> {
  const pw = password ?? (await askPassword());
  const problem = passwordProblem(pw);
  if (problem !== undefined) throw new Exit(1, `Error: ${problem}`);
  return hashPassword(pw, hash);
}

function checkUsername(user: string): void {
  const problem = usernameProblem(user);
  if (problem !== undefined) throw new Exit(1, `Error: ${problem}`);
}

async function run(cmd: Exclude<Command, { op: 'usage' }>): Promise<void> {
  switch (cmd.op) {
    case 'create': {
      checkUsername(cmd.user);
      const file = emptyPasswdFile();
      setUser(file, cmd.user, await newSecret(cmd.password, cmd.hash));
      writePasswdFile(cmd.file, file);
      return;
    }
    case 'set': {
      checkUsername(cmd.user);
      const file = readPasswdFile(cmd.file);
      setUser(file, cmd.user, await newSecret(cmd.password, cmd.hash));
      writePasswdFile(cmd.file, file);
      return;
    }
    case 'delete': {
      checkUsername(cmd.user);
      const file = readPasswdFile(cmd.file);
      if (!deleteUser(file, cmd.user)) throw new Exit(1, `Warning: User ${cmd.user} not found in password file.`);
      writePasswdFile(cmd.file, file);
      return;
    }
    case 'update': {
      const file = readPasswdFile(cmd.file);
      for (const line of entries(file)) {
        // Already hashed (a second -U, or a mixed file): hashing the hash would lock the user out.
        if (parseHash(line.secret).ok) continue;
        const problem = passwordProblem(line.secret);
        if (problem !== undefined) throw new Exit(1, `Error: ${problem}`);
        replaceSecret(line, await hashPassword(line.secret, cmd.hash));
      }
      writePasswdFile(cmd.file, file);
      return;
    }
  }
}

function finish(e: Exit): void {
  if (e.message !== undefined) writeErr(errorLine(e.message) + '\n');
  process.exitCode = e.code;
}

export function main(argv: string[]): void {
  const cmd = parsePasswdArgs(argv.slice(2));
  if (cmd instanceof Exit) return finish(cmd);
  if (cmd.op === 'usage') {
    // mosquitto_passwd prints its usage on stdout and exits 1, --help included.
    writeOut(passwdUsage());
    process.exitCode = 1;
    return;
  }
  run(cmd).then(
    () => {
      process.exitCode = 0;
    },
    (err: unknown) => {
      if (err instanceof Exit) return finish(err);
      finish(new Exit(1, `Error: ${(err as Error)?.message ?? String(err)}`));
    },
  );
}
