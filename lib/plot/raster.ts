/**
 * SVG to PNG with resvg, using the fonts {@link resolveFonts} picked. Shared by
 * the main thread (image grids) and the render worker (vega plots).
 */
import { Resvg } from "@resvg/resvg-js";
import type { FontConfig } from "./fonts";

/** A rendered PNG: bytes and pixel size. */
export interface RasterPng {
  png: Buffer;
  width: number;
  height: number;
}

/** Rasterise `svg` at `scale` device pixels per SVG unit. */
export function rasterize(svg: string, scale: number, fonts: FontConfig): RasterPng {
  const family = fonts.family;
  const font =
    fonts.files.length === 0
      ? { loadSystemFonts: false }
      : {
          loadSystemFonts: false,
          fontFiles: fonts.files,
          defaultFontFamily: family,
          sansSerifFamily: family,
          serifFamily: family,
          monospaceFamily: family,
          cursiveFamily: family,
          fantasyFamily: family,
        };
  const img = new Resvg(svg, { font, fitTo: { mode: "zoom", value: scale }, logLevel: "off" }).render();
  return { png: img.asPng(), width: img.width, height: img.height };
}
