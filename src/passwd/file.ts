/**
 * The password file as ts-mosquitto_passwd edits it: one `username:secret` line per user,
 * where the secret is a hash (see hash.ts) or, before -U, a plain-text password.
 *
 * Lines the tool does not touch are written back byte for byte (a CRLF file keeps its CRs).
 * Comment lines ('#') and blank lines, which the broker skips, are kept as they are;
 * mosquitto_passwd calls them corrupt and drops them, we do not lose them.
 */

export type PasswdLine =
  | { type: 'entry'; username: string; secret: string; raw: string }
  | { type: 'other'; raw: string };

export interface PasswdFile {
  lines: PasswdLine[];
  /** Line ending for lines we add: the file's own if its first line ends in CRLF. */
  eol: '\n' | '\r\n';
}

export type PasswdParseResult = { ok: true; file: PasswdFile } | { ok: false; line: number };

/** MQTT strings are at most 65535 bytes (MQTT-1.5.3), so longer names or passwords can never log in. */
export const MAX_FIELD_BYTES = 65535;

export function emptyPasswdFile(): PasswdFile {
  return { lines: [], eol: '\n' };
}

/** Split into lines, parse each; the first corrupt line (1-based) fails the whole file. */
export function parsePasswdText(text: string): PasswdParseResult {
  const rawLines = text.split('\n');
  // A final newline leaves an empty last element that is not a line.
  if (rawLines.length > 0 && rawLines[rawLines.length - 1] === '') rawLines.pop();
  const eol: '\n' | '\r\n' = rawLines.length > 0 && rawLines[0].endsWith('\r') ? '\r\n' : '\n';
  const lines: PasswdLine[] = [];
  for (let i = 0; i < rawLines.length; i++) {
    const raw = rawLines[i];
    const body = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const trimmed = body.trimStart();
    if (trimmed.length === 0 || trimmed.charCodeAt(0) === 0x23 /* # */) {
      lines.push({ type: 'other', raw });
      continue;
    }
    const colon = trimmed.indexOf(':');
    // No ':', an empty username or an empty secret: mosquitto_passwd's "corrupt" lines.
    if (colon <= 0 || colon === trimmed.length - 1) return { ok: false, line: i + 1 };
    lines.push({ type: 'entry', username: trimmed.slice(0, colon), secret: trimmed.slice(colon + 1), raw });
  }
  return { ok: true, file: { lines, eol } };
}

export function serializePasswdFile(file: PasswdFile): string {
  let out = '';
  for (const l of file.lines) out += l.raw + '\n';
  return out;
}

/** The mosquitto_passwd error for a username it would refuse, or undefined if acceptable. */
export function usernameProblem(username: string): string | undefined {
  if (Buffer.byteLength(username, 'utf8') > MAX_FIELD_BYTES) return 'Username must be less than 65536 characters long.';
  // An empty name would write a line that neither the broker nor the tool can read back.
  if (username.length === 0) return 'Username must not be empty.';
  if (username.includes(':')) return "Username must not contain the ':' character.";
  for (let i = 0; i < username.length; i++) {
    const c = username.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return 'Username must not contain control characters.';
  }
  return undefined;
}

export function passwordProblem(password: string): string | undefined {
  if (Buffer.byteLength(password, 'utf8') > MAX_FIELD_BYTES) return 'Password must be less than 65536 characters long.';
  return undefined;
}

function entryLine(file: PasswdFile, username: string, secret: string): PasswdLine {
  const raw = `${username}:${secret}${file.eol === '\r\n' ? '\r' : ''}`;
  return { type: 'entry', username, secret, raw };
}

/** Replace the user's line (every line of that name: the broker would keep only one) or append it. */
export function setUser(file: PasswdFile, username: string, secret: string): void {
  let placed = false;
  const out: PasswdLine[] = [];
  for (const l of file.lines) {
    if (l.type === 'entry' && l.username === username) {
      if (!placed) out.push(entryLine(file, username, secret));
      placed = true;
    } else {
      out.push(l);
    }
  }
  if (!placed) out.push(entryLine(file, username, secret));
  file.lines = out;
}

/** Remove the user's lines; false if there were none. */
export function deleteUser(file: PasswdFile, username: string): boolean {
  const before = file.lines.length;
  file.lines = file.lines.filter((l) => !(l.type === 'entry' && l.username === username));
  return file.lines.length !== before;
}

/** Every entry line, for -U to rewrite; replacing a secret keeps the line's CRLF. */
export function entries(file: PasswdFile): Extract<PasswdLine, { type: 'entry' }>[] {
  return file.lines.filter((l): l is Extract<PasswdLine, { type: 'entry' }> => l.type === 'entry');
}

export function replaceSecret(line: Extract<PasswdLine, { type: 'entry' }>, secret: string): void {
  const cr = line.raw.endsWith('\r') ? '\r' : '';
  line.secret = secret;
  line.raw = `${line.username}:${secret}${cr}`;
}
