// The training kernels' entry: run_job hands every operation code in [40, 60) here.

import { OP_TRAIN_BACKWARD, OP_TRAIN_DECODE, OP_TRAIN_ENCODE, OP_TRAIN_PANELS } from "./params";
import { trainEncode, trainPanels } from "./train_encode";
import { trainBackward, trainDecode } from "./train_sparse";

/** Run (or continue) the training job at `pb` (operation `op`); 0 finished, 1 stopped. */
export function trainJob(pb: usize, op: i32): i32 {
  if (op == OP_TRAIN_PANELS) return trainPanels(pb);
  if (op == OP_TRAIN_ENCODE) return trainEncode(pb);
  if (op == OP_TRAIN_DECODE) return trainDecode(pb);
  if (op == OP_TRAIN_BACKWARD) return trainBackward(pb);
  unreachable();
  return 0;
}
