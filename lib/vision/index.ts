/**
 * lib/vision: the helpers of the book's computer-vision chapter that are
 * neither data nor layers: reading images (`readImage`), bounding boxes,
 * anchor boxes and their labelling, non-maximum suppression (detection),
 * and later segmentation. Drawing boxes (`bboxToRect`, `showBoxes`) lives
 * with the other plots in lib/plot/boxes.ts and is exported from here.
 */
export { boxCornerToCenter, boxCenterToCorner, multiboxPrior, boxIou, assignAnchorToBbox, offsetBoxes, multiboxTarget, offsetInverse, nms, multiboxDetection } from "./boxes";
export type { MultiboxPriorOptions } from "./boxes";
export { readImage, houseCatPath } from "./image";
export type { ImageReadMode, ReadImageOptions } from "./image";
// drawn by the plot bundle's code, listed here with the other detection helpers
export { bboxToRect, showBoxes } from "../plot/boxes";
export type { BoxRect, ShowBoxesOptions } from "../plot/boxes";
export { FashionDetectionDataset, loadDataFashionDetection, readDataBananas, loadDataBananas, BANANA_DETECTION_URL, BANANA_DETECTION_SHA1 } from "./detectionData";
export type { FashionDetectionOptions, BananasOptions } from "./detectionData";
export {
  clsPredictor,
  bboxPredictor,
  flattenPred,
  concatPreds,
  downSampleBlk,
  baseNet,
  getBlk,
  blkForward,
  TinySSD,
  calcLoss,
  clsEval,
  bboxEval,
  SSD_SIZES,
  SSD_RATIOS,
} from "./ssd";
export { FashionSegDataset, loadDataFashionSeg, label2image, VOC_COLORMAP, FASHION_SEG_CLASSES } from "./segmentationData";
export type { FashionSegOptions, SegItem } from "./segmentationData";
export { pixelAccuracy, meanIou, iouPerClass } from "./segmentation";
export { loadPretrained } from "./pretrained";
export type { LoadPretrainedOptions } from "./pretrained";
