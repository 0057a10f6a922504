/**
 * d2l's own tfjs kernels, where a backend's are missing or slow: the
 * convolution gradients (convGrads.ts) on cpu and wasm; on wasm also the
 * matrix product with a transposed factor (matMul.ts), which dense layers'
 * gradients use, Tile (tile.ts), which batch normalization's gradient uses,
 * Reverse (reverse.ts) and StridedSlice (stridedSlice.ts), which the input
 * gradient of a convolution uses to flip its filter and take a strided one's
 * sub-filters, and Slice, Unpack, SplitV and GatherV2 (slice.ts), which read
 * their input in place; on both UnsortedSegmentSum (segmentSum.ts), the
 * gradient of gather (embeddings).
 */
import { useConvGradKernels } from "./convGrads";
import { useFastBatchMatMul } from "./matMul";
import { useFastTile } from "./tile";
import { useFastSegmentSum } from "./segmentSum";
import { useFastSlice } from "./slice";
import { useFastReverse } from "./reverse";
import { useFastStridedSlice } from "./stridedSlice";

export { D2L_CONV_GRAD_KERNELS, isD2lKernel } from "./convGrads";

/** Register d2l's kernels on `backendName` ("cpu" or "wasm"; others are left as they are). Calling it again changes nothing. */
export function useD2lKernels(backendName: string): void {
  useConvGradKernels(backendName);
  useFastBatchMatMul(backendName);
  useFastTile(backendName);
  useFastSegmentSum(backendName);
  useFastSlice(backendName);
  useFastReverse(backendName);
  useFastStridedSlice(backendName);
}
