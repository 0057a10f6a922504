/**
 * lib/vision: the helpers of the book's computer-vision chapter that are
 * neither data nor layers: bounding boxes, anchor boxes and their
 * labelling, non-maximum suppression (detection), and later segmentation.
 */
export { boxCornerToCenter, boxCenterToCorner, multiboxPrior, boxIou, assignAnchorToBbox, offsetBoxes, multiboxTarget, offsetInverse, nms, multiboxDetection } from "./boxes";
export type { MultiboxPriorOptions } from "./boxes";
export { readImage } from "./image";
export type { ImageReadMode, ReadImageOptions } from "./image";
