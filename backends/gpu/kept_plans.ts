/**
 * Recorded GPU work a dictionary keeps for the next call of the same shape (few rows: live
 * steering, one token at a time). Its buffers and bind groups were host work of the same order
 * as the GPU's own (bench/gpu_profile.ts: 0.35-0.65 ms an encode on an H200 host); a kept plan
 * only has its inputs rewritten. A call finding the plan busy records one of its own.
 * @module
 */

import { destroyPlan } from "./passes.ts";
import type { GpuPrepared, KeptPlan } from "./prepare.ts";

/** Plans a dictionary keeps, all kinds together. */
export const MAX_PLANS = 8;
/** GPU bytes a dictionary's kept plans hold at most, all together. */
export const MAX_PLAN_BYTES = 32 << 20;

function keptBytes(p: GpuPrepared): number {
  let bytes = 0;
  for (const kept of p.plans.values()) bytes += kept.bytes;
  return bytes;
}

/** Options of {@link withPlan}. */
export interface WithPlanOptions<T> {
  /** Whether a plan of this shape may be kept (else it is recorded for this call alone). */
  readonly keep: boolean;
  /** Record the plan. */
  readonly make: () => Promise<KeptPlan>;
  /** Write the call's inputs into the plan's buffers, submit it, read the answer. */
  readonly use: (plan: KeptPlan) => Promise<T>;
}

/**
 * Run `options.use` on the plan `p` keeps under `key`, recording it when absent or busy. A new
 * plan is kept when allowed and within the limits; a plan that fails is dropped.
 */
export async function withPlan<T>(
  p: GpuPrepared,
  key: string,
  options: WithPlanOptions<T>,
): Promise<T> {
  let held = options.keep ? p.plans.get(key) : undefined;
  let own = false; // a plan recorded for this call alone
  if (!held || held.busy) {
    held = await options.make();
    own = !(options.keep && !p.plans.has(key) && p.plans.size < MAX_PLANS &&
      keptBytes(p) + held.bytes <= MAX_PLAN_BYTES);
    if (!own) p.plans.set(key, held);
  }
  held.busy = true;
  try {
    return await options.use(held);
  } catch (e) {
    if (!own && p.plans.get(key) === held) p.plans.delete(key);
    own = true;
    throw e;
  } finally {
    held.busy = false;
    if (own) destroyPlan(held.plan);
  }
}
