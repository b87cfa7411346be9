/**
 * The compiled kernels (wasm/build/kernels.wasm, built by `deno task wasm`), compiled once per
 * process and shared by every pool.
 * @module
 */

let compiled: Promise<WebAssembly.Module> | undefined;

/** The compiled kernels; rejects with a hint when the build is missing. */
export function compileKernels(): Promise<WebAssembly.Module> {
  compiled ??= (async () => {
    const url = new URL("./build/kernels.wasm", import.meta.url);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await Deno.readFile(url);
    } catch (e) {
      throw new Error(`${url.pathname} is missing: run \`deno task wasm\` first`, { cause: e });
    }
    return await WebAssembly.compile(bytes);
  })();
  compiled.catch(() => (compiled = undefined));
  return compiled;
}
