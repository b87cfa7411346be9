/**
 * The local-folder store (`file://`): ranged reads with seek, recursive listing, atomic writes.
 * Every path is normalized and resolved through symlinks; anything that would land outside
 * the root is refused.
 *
 * Symlinks: a link to a file or folder inside the root is followed (an alias such as
 * `latest -> v3` works), a link that leaves the root is treated as absent, and a link to a
 * folder that loops (back to a folder the path already went through, or to an ancestor of
 * one, by real path or by device and inode) is never followed, so one folder cannot appear
 * under endless `loop/loop/...` ids. Listings walk real folders first and each folder once, so
 * a folder reachable both directly and through a link is listed under its own path.
 * @module
 */

import { dirname, join, resolve, sep } from "node:path";
import type { ByteSource } from "../../domain/io/byte_source.ts";
import { FormatError, SaeError } from "../../domain/errors.ts";
import { checkRange } from "./ranged_source.ts";
import type { Store, StoreEntry } from "./store.ts";
import { objectPath } from "./object_path.ts";

/** Largest piece a file stream reads and hands out at once. */
const CHUNK_BYTES = 1 << 20;

/** A store over the folder `root` (relative paths resolve against the working directory). */
export function fileStore(root: string): Store {
  const absolute = resolve(root);
  const describe = `file://${absolute}`;

  const realRoot = async (): Promise<string> => {
    try {
      const real = await Deno.realPath(absolute);
      if ((await Deno.stat(real)).isDirectory) return real;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw fsError(error, describe);
    }
    throw new SaeError("unavailable", `${describe} is not a folder`);
  };

  /** The real path of an existing object, or not_found if absent, outside the root or looping. */
  const locate = async (path: string): Promise<string> => {
    const relative = objectPath(path);
    const base = await realRoot();
    let real: string | null;
    try {
      real = await resolveInside(base, relative);
    } catch (error) {
      throw fsError(error, `${describe}/${relative}`);
    }
    if (real === null) throw new SaeError("not_found", `${describe}/${relative} not found`);
    return real;
  };

  return {
    describe,

    async list(prefix: string): Promise<StoreEntry[]> {
      const relative = objectPath(prefix, { allowEmpty: true });
      const base = await realRoot();
      let start: string | null;
      let info: Deno.FileInfo;
      try {
        start = await resolveInside(base, relative);
        if (start === null || !(info = await Deno.stat(start)).isDirectory) return [];
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return [];
        throw fsError(error, `${describe}/${relative}`);
      }
      const entries = await walk(start, { base, relative, info });
      return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },

    async open(path: string): Promise<ByteSource> {
      const real = await locate(path);
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(real);
      } catch (error) {
        throw fsError(error, `${describe}/${path}`);
      }
      if (!info.isFile) throw new SaeError("not_found", `${describe}/${path} is not a file`);
      return fileSource(real, { size: info.size, label: `${describe}/${objectPath(path)}` });
    },

    async ping(): Promise<void> {
      await realRoot();
    },

    async put(path: string, body: Uint8Array): Promise<void> {
      const relative = objectPath(path, { refuseAs: "invalid" });
      await Deno.mkdir(absolute, { recursive: true }).catch((e) => {
        throw fsError(e, describe);
      });
      const base = await realRoot();
      const target = join(base, relative);
      const folder = dirname(target);
      // Check the deepest existing ancestor before creating folders, so that a symlink
      // pointing out of the root is never followed by mkdir.
      let existing = folder;
      while (!(await exists(existing))) existing = dirname(existing);
      const refuse = (): never => {
        throw new SaeError("invalid", `${describe}/${relative} would be written outside the store`);
      };
      if (!inside(base, await Deno.realPath(existing))) refuse();
      await Deno.mkdir(folder, { recursive: true }).catch((e) => {
        throw fsError(e, `${describe}/${relative}`);
      });
      const realFolder = await Deno.realPath(folder);
      if (!inside(base, realFolder)) refuse();
      const name = target.slice(folder.length + 1);
      const temp = join(realFolder, `.${name}.${crypto.randomUUID()}.tmp`);
      try {
        const file = await Deno.open(temp, { write: true, createNew: true });
        try {
          for (let at = 0; at < body.byteLength;) at += await file.write(body.subarray(at));
          await file.syncData();
        } finally {
          file.close();
        }
        await Deno.rename(temp, join(realFolder, name));
      } catch (error) {
        await Deno.remove(temp).catch(() => {});
        throw fsError(error, `${describe}/${relative}`);
      }
    },
  };
}

/** Identity of a folder: device and inode where the platform has them, else its real path. */
function folderKey(info: Deno.FileInfo, real: string): string {
  return info.ino === null ? real : `${info.dev}:${info.ino}`;
}

function missing(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
}

/**
 * The real path of `relative` under the real folder `base`, resolved one name at a time; null
 * when it is absent, a link leaves `base` (or dangles), or a link to a folder loops: its
 * target is a folder this path already went through or an ancestor of one. Plain folders seen
 * twice (a bind mount of an ancestor) count as a loop too.
 */
async function resolveInside(base: string, relative: string): Promise<string | null> {
  const names = relative === "" ? [] : relative.split("/");
  const passed = [base];
  const keys = new Set([folderKey(await Deno.stat(base), base)]);
  let current = base;
  for (let i = 0; i < names.length; i++) {
    let real = join(current, names[i]);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(real);
      if (info.isSymlink) {
        real = await Deno.realPath(real);
        info = await Deno.stat(real);
      }
    } catch (error) {
      if (missing(error)) return null;
      throw error;
    }
    if (!inside(base, real)) return null;
    if (info.isDirectory) {
      const key = folderKey(info, real);
      if (keys.has(key) || passed.some((folder) => inside(real, folder))) return null;
      keys.add(key);
      passed.push(real);
    } else if (i < names.length - 1) {
      return null; // a file where a folder should be
    }
    current = real;
  }
  return current;
}

/**
 * Every file under the real folder `start`, with paths below `relative`. Plain folders are
 * walked first, links to folders afterwards, each folder once (by device and inode); a link
 * that leaves `base`, dangles, or points at an ancestor of its own folder is skipped.
 */
async function walk(
  start: string,
  options: { base: string; relative: string; info: Deno.FileInfo },
): Promise<StoreEntry[]> {
  const { base } = options;
  const entries: StoreEntry[] = [];
  const seen = new Set([folderKey(options.info, start)]);
  const folders = [{ real: start, relative: options.relative }];
  const links: { path: string; folder: string; relative: string }[] = [];
  const enter = (info: Deno.FileInfo, real: string, relative: string): void => {
    const key = folderKey(info, real);
    if (seen.has(key)) return;
    seen.add(key);
    folders.push({ real, relative });
  };
  while (folders.length || links.length) {
    const folder = folders.pop();
    if (!folder) {
      const link = links.shift()!;
      const real = await Deno.realPath(link.path).catch(() => null); // null: dangling
      if (real === null || !inside(base, real) || inside(real, link.folder)) continue;
      const info = await Deno.stat(real).catch(() => null);
      if (info?.isFile) entries.push({ path: link.relative, size: info.size });
      else if (info?.isDirectory) enter(info, real, link.relative);
      continue;
    }
    for await (const entry of Deno.readDir(folder.real)) {
      if (entry.name.startsWith(".") || entry.name.includes("\\")) continue;
      const relative = folder.relative === "" ? entry.name : `${folder.relative}/${entry.name}`;
      const path = join(folder.real, entry.name);
      if (entry.isSymlink) {
        links.push({ path, folder: folder.real, relative });
        continue;
      }
      const info = await Deno.stat(path).catch(() => null);
      if (info?.isFile) entries.push({ path: relative, size: info.size });
      else if (info?.isDirectory) enter(info, path, relative);
    }
  }
  return entries;
}

function fileSource(path: string, options: { size: number; label: string }): ByteSource {
  const { size, label } = options;
  return {
    size,
    async readInto(offset: number, target: Uint8Array): Promise<void> {
      checkRange(offset, target.byteLength, { size, label });
      using file = await Deno.open(path, { read: true });
      await file.seek(offset, Deno.SeekMode.Start);
      let filled = 0;
      while (filled < target.byteLength) {
        const n = await file.read(
          target.subarray(filled, Math.min(target.byteLength, filled + CHUNK_BYTES * 16)),
        );
        if (n === null) {
          throw new FormatError(
            "file",
            `${label} ended after ${filled} of ${target.byteLength} bytes`,
          );
        }
        filled += n;
      }
    },
    stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
      try {
        checkRange(offset, length, { size, label });
      } catch (error) {
        return Promise.reject(error);
      }
      let file: Deno.FsFile | null = null;
      let remaining = length;
      const close = (): void => {
        file?.close();
        file = null;
      };
      return Promise.resolve(
        new ReadableStream<Uint8Array>({
          async pull(controller): Promise<void> {
            try {
              if (remaining === 0) {
                close();
                controller.close();
                return;
              }
              if (file === null) {
                file = await Deno.open(path, { read: true });
                await file.seek(offset, Deno.SeekMode.Start);
              }
              const buffer = new Uint8Array(Math.min(CHUNK_BYTES, remaining));
              let filled = 0;
              while (filled < buffer.byteLength) {
                const n = await file.read(buffer.subarray(filled));
                if (n === null) {
                  throw new FormatError(
                    "file",
                    `${label} ended after ${length - remaining + filled} of ${length} bytes`,
                  );
                }
                filled += n;
              }
              remaining -= filled;
              controller.enqueue(buffer);
              if (remaining === 0) {
                close();
                controller.close();
              }
            } catch (error) {
              close();
              controller.error(error instanceof SaeError ? error : fsError(error, label));
            }
          },
          cancel(): void {
            close();
          },
        }),
      );
    },
  };
}

function inside(base: string, real: string): boolean {
  return real === base || real.startsWith(base.endsWith(sep) ? base : base + sep);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function fsError(error: unknown, label: string): SaeError {
  if (error instanceof SaeError) return error;
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
    return new SaeError("not_found", `${label} not found`, { cause: error });
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new SaeError("unavailable", `${label}: permission denied`, { cause: error });
  }
  return new SaeError("unavailable", `${label}: file system error`, { cause: error });
}
