/**
 * Reading and replacing password files safely.
 *
 * A change is written to a temporary file in the same directory, flushed to disk, and
 * renamed over the original: rename(2) is atomic, so a reader (the broker on SIGHUP) sees
 * the old file or the new one, and a run killed half way leaves the old file intact.
 * A new file is created as mosquitto_passwd 2.0 creates one: owned by whoever runs the
 * program, mode 0666 less the umask (so that a broker started as root, which then runs as
 * `mosquitto`, can still read it on SIGHUP). An existing file keeps its owner, group and
 * mode; where its owner cannot be given to the new file (not root), it is rewritten in
 * place instead, as mosquitto_passwd always does.
 */
import { chmodSync, chownSync, closeSync, fsyncSync, ftruncateSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** strerror(3) wording for the errors a file operation here can end with. */
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EROFS: 'Read-only file system',
  ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded',
  EEXIST: 'File exists',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  EMFILE: 'Too many open files',
  EIO: 'Input/output error',
  EXDEV: 'Invalid cross-device link',
  EBUSY: 'Device or resource busy',
};

export function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && ERRNO_TEXT[code] !== undefined) return ERRNO_TEXT[code];
  return code ?? String((err as Error | undefined)?.message ?? err);
}

/** Where the data really lives: a symlinked password file stays a symlink. */
interface Target {
  target: string;
  /** The existing file's mode, owner and group; undefined for a new file. */
  existing: { mode: number; uid: number; gid: number } | undefined;
}

function resolveTarget(path: string): Target {
  try {
    const target = realpathSync(path);
    const st = statSync(target);
    return { target, existing: { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid } };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { target: path, existing: undefined };
    throw err;
  }
}

/**
 * Replace (or create) the file with `data`. Throws the fs error; the temporary file is
 * removed on failure.
 */
export function writeFileAtomic(path: string, data: string): void {
  const { target, existing } = resolveTarget(path);
  const buf = Buffer.from(data, 'utf8');
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // 'wx' never follows or reuses an existing name. A replacement stays 0600 until it has
  // its final owner and mode; a new file gets 0666 less the umask, as fopen(3) gives it.
  const fd = openSync(tmp, 'wx', existing === undefined ? 0o666 : 0o600);
  let renamed = false;
  try {
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    if (existing !== undefined) {
      const st = statSync(tmp);
      if (st.uid !== existing.uid || st.gid !== existing.gid) {
        try {
          chownSync(tmp, existing.uid, existing.gid);
        } catch {
          // Not ours to give away: write the original file in place, which keeps its owner.
          writeInPlace(target, buf);
          return;
        }
      }
      // fchmod is not exposed on a closed fd; chmod the temporary name before it goes live.
      if (existing.mode !== 0o600) chmodQuiet(tmp, existing.mode);
    }
    renameSync(tmp, target);
    renamed = true;
    syncDirectory(dirname(target));
  } finally {
    if (!renamed) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      try {
        unlinkSync(tmp);
      } catch {
        // nothing to clean up
      }
    }
  }
}

/** Truncate and rewrite the file itself (mosquitto_passwd's way): owner and mode stay. */
function writeInPlace(target: string, buf: Buffer): void {
  const fd = openSync(target, 'r+');
  try {
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, off);
    ftruncateSync(fd, buf.length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function chmodQuiet(path: string, mode: number): void {
  try {
    chmodSync(path, mode);
  } catch {
    // Keeping 0600 is the safe failure.
  }
}

/** Make the rename itself durable; not every file system allows opening a directory. */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}
