/**
 * File formats and byte sources, parsed and written without I/O: ranged byte sources, dtypes,
 * .npy / .npz, safetensors, zip, torch.save checkpoints on a safe pickle VM, GGUF control
 * vectors, images, JSON text, CRC-32 and streamed SHA-256.
 * @module
 */

export * from "./byte_source.ts";
export * from "./crc32.ts";
export * from "./dtype.ts";
export * from "./gguf.ts";
export * from "./hashing_source.ts";
export * from "./image_codec.ts";
export * from "./image_header.ts";
export * from "./json_text.ts";
export * from "./npy.ts";
export * from "./npz.ts";
export * from "./pickle.ts";
export * from "./safetensors.ts";
export * from "./torch_pickle.ts";
export * from "./zip.ts";
