/**
 * Reading and replacing password files safely.
 *
 * A change is written to a temporary file in the same directory, flushed to disk, and
 * renamed over the original: rename(2) is atomic, so a reader (the broker on SIGHUP) sees
 * the old file or the new one, and a run killed half way leaves the old file intact.
 * A new file is created with mode 0600 (the hashes are secrets); an existing file keeps
 * its mode.
 */
import { chmodSync, closeSync, fsyncSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
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
function resolveTarget(path: string): { target: string; mode: number | undefined } {
  try {
    const target = realpathSync(path);
    return { target, mode: statSync(target).mode & 0o7777 };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { target: path, mode: undefined };
    throw err;
  }
}

/**
 * Replace (or create) the file with `data`. Throws the fs error; the temporary file is
 * removed on failure.
 */
export function writeFileAtomic(path: string, data: string): void {
  const { target, mode } = resolveTarget(path);
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // 'wx' never follows or reuses an existing name; 0600 until the final mode is known.
  const fd = openSync(tmp, 'wx', 0o600);
  let renamed = false;
  try {
    const buf = Buffer.from(data, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    if (mode !== undefined && mode !== 0o600) {
      // fchmod is not exposed on a closed fd; chmod the temporary name before it goes live.
      chmodQuiet(tmp, mode);
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
