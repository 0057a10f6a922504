/**
 * lib/plot: the book's plotting helpers (`plot`, `Animator`, `show_images`)
 * and a progress bar. Plots are mime bundles of vega-lite (interactive in
 * JupyterLab, Notebook 7 and VS Code), PNG (classic Notebook, nbconvert) and
 * text; never text/html.
 */
export { plot } from "./plot";
export type { PlotData, PlotSeries, PlotOptions } from "./plot";
export { Animator } from "./animator";
export type { AnimatorOptions } from "./animator";
export { showImages } from "./images";
export type { ImageBatch, ShowImagesOptions } from "./images";
export { showHeatmaps } from "./heatmap";
export type { HeatmapData, ShowHeatmapsOptions } from "./heatmap";
export { ProgressBar } from "./progress";
export type { ProgressBarOptions } from "./progress";
export { Figure, VEGALITE_MIME, JUPYTER_DISPLAY, PREPARE } from "./figure";
export type { DisplayBundle } from "./figure";
export type { AxesOptions, AxisScale, VegaLiteSpec } from "./spec";
export { plotly, PlotlyFigure, PLOTLY_MIME } from "./plotly";
export type { PlotlyTrace, PlotlyLayout, PlotlyFigureSpec, PlotlyJson, PlotlyValues } from "./plotly";
