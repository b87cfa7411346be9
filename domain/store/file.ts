/**
 * The local-folder store (`file://`): ranged reads with seek, recursive listing, atomic writes.
 * Every path is normalized and resolved through symlinks; anything that would land outside
 * the root is refused.
 * @module
 */

import { dirname, join, resolve, sep } from "node:path";
import type { ByteSource } from "../byte_source.ts";
import { FormatError, SaeError } from "../errors.ts";
import { checkRange } from "./http.ts";
import type { Store, StoreEntry } from "./mod.ts";
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

  /** The real path of an existing object, or not_found if absent or outside the root. */
  const locate = async (path: string): Promise<string> => {
    const relative = objectPath(path);
    const base = await realRoot();
    let real: string;
    try {
      real = await Deno.realPath(join(base, relative));
    } catch (error) {
      throw fsError(error, `${describe}/${relative}`);
    }
    if (!inside(base, real)) throw new SaeError("not_found", `${describe}/${relative} not found`);
    return real;
  };

  return {
    describe,

    async list(prefix: string): Promise<StoreEntry[]> {
      const relative = objectPath(prefix, { allowEmpty: true });
      const base = await realRoot();
      let start: string;
      try {
        start = await Deno.realPath(join(base, relative));
        if (!inside(base, start) || !(await Deno.stat(start)).isDirectory) return [];
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return [];
        throw fsError(error, `${describe}/${relative}`);
      }
      const entries: StoreEntry[] = [];
      await walk(start, { base, relative, entries, seen: new Set([start]) });
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

interface WalkState {
  readonly base: string;
  readonly relative: string;
  readonly entries: StoreEntry[];
  readonly seen: Set<string>;
}

async function walk(folder: string, state: WalkState): Promise<void> {
  for await (const entry of Deno.readDir(folder)) {
    if (entry.name.startsWith(".") || entry.name.includes("\\")) continue;
    const relative = state.relative === "" ? entry.name : `${state.relative}/${entry.name}`;
    let real = join(folder, entry.name);
    if (entry.isSymlink) {
      try {
        real = await Deno.realPath(real);
      } catch {
        continue; // dangling link
      }
      if (!inside(state.base, real)) continue;
    }
    const info = await Deno.stat(real).catch(() => null);
    if (info?.isFile) {
      state.entries.push({ path: relative, size: info.size });
    } else if (info?.isDirectory && !state.seen.has(real)) {
      state.seen.add(real);
      await walk(real, { ...state, relative });
    }
  }
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
