/**
 * Fonts for text in PNG plots. resvg draws no text without a font, and does
 * not read fontconfig, so d2l picks font files itself, in this order:
 *
 * 1. `D2L_FONT`: a .ttf/.otf/.ttc path (several separated by the path
 *    delimiter), or `none` to render without text;
 * 2. well-known sans-serif files (DejaVu Sans from Debian's
 *    `fonts-dejavu-core`, Liberation Sans, Arial, Helvetica);
 * 3. any font file found in the usual font folders.
 *
 * With no font at all, plots still render, without text, and a single
 * warning says how to install one.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** What the PNG renderer is given (resvg's `font` option). */
export interface FontConfig {
  /** Font files to load (empty: render without text). */
  files: string[];
  /** Family name every generic family (sans-serif, serif, ...) maps to. */
  family: string | undefined;
  /** Why there is no font, when `files` is empty. */
  missing?: string;
}

/** Read the family name (name ID 16, else 1) from a TrueType/OpenType/TTC file's `name` table. */
export function fontFamilyOf(file: string): string | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  try {
    let base = 0;
    if (buf.toString("latin1", 0, 4) === "ttcf") base = buf.readUInt32BE(12);
    const numTables = buf.readUInt16BE(base + 4);
    let nameOffset = -1;
    for (let i = 0; i < numTables; i++) {
      const rec = base + 12 + i * 16;
      if (buf.toString("latin1", rec, rec + 4) === "name") nameOffset = buf.readUInt32BE(rec + 8);
    }
    if (nameOffset < 0) return undefined;
    const count = buf.readUInt16BE(nameOffset + 2);
    const strings = nameOffset + buf.readUInt16BE(nameOffset + 4);
    const found = new Map<string, string>();
    for (let i = 0; i < count; i++) {
      const r = nameOffset + 6 + i * 12;
      const platform = buf.readUInt16BE(r);
      const language = buf.readUInt16BE(r + 4);
      const nameId = buf.readUInt16BE(r + 6);
      const len = buf.readUInt16BE(r + 8);
      const off = strings + buf.readUInt16BE(r + 10);
      if (nameId !== 1 && nameId !== 16) continue;
      let s: string;
      if (platform === 3 || platform === 0) {
        if (platform === 3 && language !== 0x409 && found.has(`${nameId}`)) continue;
        const bytes = Buffer.from(buf.subarray(off, off + len));
        bytes.swap16();
        s = bytes.toString("utf16le");
      } else if (platform === 1) {
        if (found.has(`${nameId}`)) continue;
        s = buf.toString("latin1", off, off + len);
      } else continue;
      if (s) found.set(`${nameId}`, s);
    }
    return found.get("16") ?? found.get("1");
  } catch {
    return undefined;
  }
}

/** Known good sans-serif fonts: regular file, then an optional bold sibling. */
const KNOWN: [string, string?][] = [
  ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"],
  ["/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf", "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf"],
  ["/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"],
  ["/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"],
  ["/usr/local/share/fonts/dejavu/DejaVuSans.ttf", "/usr/local/share/fonts/dejavu/DejaVuSans-Bold.ttf"],
  ["/opt/homebrew/share/fonts/dejavu/DejaVuSans.ttf"],
  ["/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"],
  ["/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf", "/usr/share/fonts/liberation-sans/LiberationSans-Bold.ttf"],
  ["/System/Library/Fonts/Supplemental/Arial.ttf", "/System/Library/Fonts/Supplemental/Arial Bold.ttf"],
  ["/Library/Fonts/Arial.ttf", "/Library/Fonts/Arial Bold.ttf"],
  ["/System/Library/Fonts/Helvetica.ttc"],
  ["C:\\Windows\\Fonts\\arial.ttf", "C:\\Windows\\Fonts\\arialbd.ttf"],
];

function fontDirs(): string[] {
  const home = os.homedir();
  return [
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    path.join(home, ".local/share/fonts"),
    path.join(home, ".fonts"),
    "/System/Library/Fonts",
    "/Library/Fonts",
    path.join(home, "Library/Fonts"),
    "C:\\Windows\\Fonts",
  ];
}

/** Font files under `dir`, a few levels deep, at most `limit` of them. */
function scan(dir: string, depth: number, out: string[], limit: number): void {
  if (depth < 0 || out.length >= limit) return;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (out.length >= limit) return;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) scan(p, depth - 1, out, limit);
    else if (/\.(ttf|otf|ttc)$/i.test(e.name)) out.push(p);
  }
}

const INSTALL_HINT = "install a font (Debian/Ubuntu: apt-get install fonts-dejavu-core; Fedora: dnf install dejavu-sans-fonts) or set D2L_FONT=/path/to/font.ttf";

/**
 * Decide which font files PNG plots use. `env` and `exists` are parameters
 * so tests can check the rules without touching the machine's fonts.
 */
export function resolveFonts(env: NodeJS.ProcessEnv = process.env, exists: (p: string) => boolean = fs.existsSync): FontConfig {
  const wanted = env.D2L_FONT?.trim();
  if (wanted) {
    if (wanted.toLowerCase() === "none") return { files: [], family: undefined, missing: "D2L_FONT=none" };
    const files = wanted.split(path.delimiter).filter((f) => f !== "");
    const bad = files.filter((f) => !exists(f));
    if (bad.length > 0) {
      return { files: [], family: undefined, missing: `D2L_FONT names ${bad.map((b) => JSON.stringify(b)).join(", ")}, which does not exist; ${INSTALL_HINT}` };
    }
    const family = fontFamilyOf(files[0]);
    if (!family) return { files: [], family: undefined, missing: `D2L_FONT file ${JSON.stringify(files[0])} is not a TrueType/OpenType font` };
    return { files, family };
  }
  for (const [regular, bold] of KNOWN) {
    if (!exists(regular)) continue;
    const family = fontFamilyOf(regular);
    if (!family) continue;
    return { files: bold && exists(bold) ? [regular, bold] : [regular], family };
  }
  const found: string[] = [];
  for (const d of fontDirs()) scan(d, 4, found, 400);
  const ranked = [...found].sort((a, b) => rank(a) - rank(b));
  for (const f of ranked) {
    const family = fontFamilyOf(f);
    if (family) return { files: [f], family };
  }
  return { files: [], family: undefined, missing: `no font files found; ${INSTALL_HINT}` };
}

/** Prefer plain sans-serif faces when scanning. */
function rank(file: string): number {
  const b = path.basename(file).toLowerCase();
  let r = 0;
  if (!b.includes("sans")) r += 4;
  if (/bold|italic|oblique|light|mono|math|condensed|icon|awesome|emoji|symbol/.test(b)) r += 8;
  return r;
}

let cached: FontConfig | undefined;
let warned = false;

/** The fonts PNG plots use, found once per process; warns once when there are none. */
export function plotFonts(): FontConfig {
  if (!cached) cached = resolveFonts();
  if (cached.files.length === 0 && !warned) {
    warned = true;
    process.stderr.write(`d2l plot: PNG images are drawn without text (${cached.missing}).\n`);
  }
  return cached;
}

/** Advance widths of a font, to lay out text the way it will be drawn. */
export interface FontMetrics {
  /** Width of `text` at `fontSize` px. */
  width(text: string, fontSize: number): number;
}

/**
 * Read advance widths (cmap format 4 + hmtx) from a TrueType/OpenType file,
 * or undefined if the file has none that can be read.
 */
export function loadFontMetrics(file: string): FontMetrics | undefined {
  try {
    const buf = fs.readFileSync(file);
    const base = buf.toString("latin1", 0, 4) === "ttcf" ? buf.readUInt32BE(12) : 0;
    const numTables = buf.readUInt16BE(base + 4);
    const tables = new Map<string, number>();
    for (let i = 0; i < numTables; i++) {
      const rec = base + 12 + i * 16;
      tables.set(buf.toString("latin1", rec, rec + 4), buf.readUInt32BE(rec + 8));
    }
    const head = tables.get("head");
    const hhea = tables.get("hhea");
    const hmtx = tables.get("hmtx");
    const cmap = tables.get("cmap");
    if (head === undefined || hhea === undefined || hmtx === undefined || cmap === undefined) return undefined;
    const unitsPerEm = buf.readUInt16BE(head + 18);
    const numHMetrics = buf.readUInt16BE(hhea + 34);
    let sub = -1;
    const nSub = buf.readUInt16BE(cmap + 2);
    for (let i = 0; i < nSub; i++) {
      const platform = buf.readUInt16BE(cmap + 4 + i * 8);
      const encoding = buf.readUInt16BE(cmap + 6 + i * 8);
      const off = cmap + buf.readUInt32BE(cmap + 8 + i * 8);
      if (buf.readUInt16BE(off) !== 4) continue;
      if ((platform === 3 && encoding === 1) || platform === 0) {
        sub = off;
        break;
      }
    }
    if (sub < 0 || unitsPerEm === 0 || numHMetrics === 0) return undefined;
    const segX2 = buf.readUInt16BE(sub + 6);
    const ends = sub + 14;
    const starts = ends + segX2 + 2;
    const deltas = starts + segX2;
    const rangeOffsets = deltas + segX2;
    const glyph = (cp: number): number => {
      if (cp > 0xffff) return 0;
      for (let s = 0; s < segX2; s += 2) {
        if (buf.readUInt16BE(ends + s) < cp) continue;
        const start = buf.readUInt16BE(starts + s);
        if (start > cp) return 0;
        const delta = buf.readUInt16BE(deltas + s);
        const ro = buf.readUInt16BE(rangeOffsets + s);
        if (ro === 0) return (cp + delta) & 0xffff;
        const g = buf.readUInt16BE(rangeOffsets + s + ro + 2 * (cp - start));
        return g === 0 ? 0 : (g + delta) & 0xffff;
      }
      return 0;
    };
    const advance = (g: number): number => buf.readUInt16BE(hmtx + 4 * Math.min(g, numHMetrics - 1)) / unitsPerEm;
    const cache = new Map<number, number>();
    return {
      width(text: string, fontSize: number): number {
        let w = 0;
        for (const ch of text) {
          const cp = ch.codePointAt(0) ?? 0;
          let a = cache.get(cp);
          if (a === undefined) {
            a = advance(glyph(cp));
            cache.set(cp, a);
          }
          w += a;
        }
        return w * fontSize;
      },
    };
  } catch {
    return undefined;
  }
}
