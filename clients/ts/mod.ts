/**
 * The saeserve TypeScript client: `new Client({ baseUrl })`, then dictionaries, describe, encode,
 * decode and steer with typed arrays; `clamp`, `add`, `scale`, `ablate` build interventions.
 * @module
 */

export {
  type Activations,
  Client,
  type ClientOptions,
  type DictionaryInfo,
  ENCODE_INCLUDES,
  type EncodeMetrics,
  type Encoding,
} from "./client.ts";
export { SaeServeError } from "./errors.ts";
export { ablate, add, clamp, type Intervention, scale, STEER_MODES } from "./interventions.ts";
export { decodeNpy, encodeNpy, type Matrix } from "./npy.ts";
export { retryAfterMs, type TransportOptions } from "./transport.ts";
