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

/**
 * Make `svg` safe for resvg 2.6: a group clipped by a rectangle whose
 * content lies entirely outside that rectangle (a line of a plot whose
 * `ylim` hides all of it) makes resvg panic, and a panic in the native
 * module aborts the whole process (the kernel dies; thx/resvg-js#413). So
 * each group clipped by one of the SVG's rectangular clip paths gets a
 * fully transparent copy of that rectangle as its first child: the group's
 * content then always meets its clip, and nothing drawn changes.
 */
export function guardClips(svg: string): string {
  const rects = new Map<string, string>();
  const clipRe = /<clipPath\s+id="([^"]+)"[^>]*>\s*<rect\s([^>]*?)\/?>\s*(?:<\/rect>\s*)?<\/clipPath>/g;
  for (const m of svg.matchAll(clipRe)) {
    const attrs = ["x", "y", "width", "height"].map((a) => new RegExp(`\\b${a}="([^"]*)"`).exec(m[2])?.[0]).filter((a): a is string => a !== undefined);
    rects.set(m[1], attrs.join(" "));
  }
  if (rects.size === 0) return svg;
  return svg.replace(/<g\s[^>]*clip-path="url\(#([^)"]+)\)"[^>]*>/g, (open: string, id: string) => {
    const rect = rects.get(id);
    return rect === undefined ? open : `${open}<rect ${rect} fill="#fff" fill-opacity="0" stroke="none"/>`;
  });
}

/** Rasterise `svg` at `scale` device pixels per SVG unit. */
export function rasterize(svg: string, scale: number, fonts: FontConfig): RasterPng {
  svg = guardClips(svg);
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
