/**
 * The cell compiler: tslab's converter (types carry from cell to cell), with
 * three changes made from outside tslab, by handing its converter a wrapped
 * TypeScript module before it loads:
 *
 * - `strict: true` is merged into the compiler options tslab hard-codes;
 * - source maps are switched on and captured, for both of tslab's stages
 *   (TypeScript → ES module, ES module → CommonJS), so that a runtime error's
 *   stack can point at the cell's own line and column;
 * - nothing else: tslab's own logic (declarations carried across cells,
 *   completion, quick info) is used as it is.
 */
import type * as TS from "typescript";
import * as path from "path";
import { TraceMap, originalPositionFor } from "@jridgewell/trace-mapping";

/** The subset of TypeScript's API this module touches. */
interface TsModule {
  createWatchCompilerHost: (...args: unknown[]) => WatchHost;
  transpileModule: (
    input: string,
    options: { compilerOptions?: Record<string, unknown>; fileName?: string },
  ) => {
    outputText: string;
    sourceMapText?: string;
  };
  createProgram: (o: Record<string, unknown>) => TsProgram;
  createSourceFile: (name: string, text: string, target: number, setParents?: boolean) => TsSourceFile;
  ScriptTarget: { ES2022: number; Latest: number };
  flattenDiagnosticMessageText: (m: unknown, nl: string) => string;
  displayPartsToString: (parts: unknown) => string;
}
interface TsProgram {
  getCompilerOptions(): unknown;
  getTypeChecker(): unknown;
  getSourceFile(f: string): unknown;
  getSourceFiles(): readonly { fileName: string; isDeclarationFile: boolean }[];
  getCurrentDirectory(): string;
  emit(...a: unknown[]): unknown;
}
interface LightBuilder {
  getProgram(): TsProgram;
  getProgramOrUndefined(): TsProgram | undefined;
  [k: string]: unknown;
}
interface TsSourceFile {
  parseDiagnostics?: { messageText: unknown; start?: number; code: number }[];
}
interface Builder {
  emit: (sf: unknown, write?: (name: string, data: string, ...rest: unknown[]) => void, ...rest: unknown[]) => unknown;
  getProgram?: () => TsProgram;
}
interface WatchHost {
  afterProgramCreate?: (b: Builder) => void;
  watchDirectory?: (...a: unknown[]) => { close(): void };
}

/**
 * tslab rewrites a name declared by an earlier cell `k` to `exports.k`, but
 * misses the shorthand property `{ k }` (its name resolves to the property,
 * not the variable), so `{ k }` threw "k is not defined". This `before`
 * transformer turns such a shorthand into `k: exports.k` first.
 */
function withShorthandFix(ts: typeof TS, b: Builder, given: unknown): unknown {
  const program = b.getProgram?.() as unknown as TS.Program | undefined;
  if (!program) return given;
  const checker = program.getTypeChecker();
  const fromEarlierCell = (node: TS.ShorthandPropertyAssignment): boolean =>
    (checker.getShorthandAssignmentValueSymbol(node)?.declarations ?? []).some((d) => d.getSourceFile().fileName.endsWith("__prev__.d.ts"));
  const fix: TS.TransformerFactory<TS.SourceFile> = (context) => (root) => {
    const visit = (node: TS.Node): TS.Node => {
      if (ts.isShorthandPropertyAssignment(node) && !node.objectAssignmentInitializer && fromEarlierCell(node)) {
        return ts.factory.createPropertyAssignment(node.name.text, ts.factory.createPropertyAccessExpression(ts.factory.createIdentifier("exports"), node.name.text));
      }
      return ts.visitEachChild(node, visit, context);
    };
    return ts.visitNode(root, visit) as TS.SourceFile;
  };
  const t = (given ?? {}) as TS.CustomTransformers;
  return { ...t, before: [fix, ...(t.before ?? [])] };
}

/** A diagnostic as tslab reports it, positions relative to the cell. */
export interface CellDiagnostic {
  start: { line: number; character: number; offset: number };
  end: { line: number; character: number; offset: number };
  messageText: string;
  category: number;
  code: number;
  fileName?: string;
}

/** What converting one cell gives. */
export interface Conversion {
  output?: string;
  declOutput?: string;
  diagnostics: CellDiagnostic[];
  hasToplevelAwait?: boolean;
  lastExpressionVar?: string;
  sideOutputs?: { path: string; data: string }[];
  /** Maps a position in `output` (1-based line, 0-based column) to the cell's. */
  mapPosition?: (line: number, column: number) => { line: number; column: number } | null;
}

export interface QuickInfo {
  kind: string;
  kindModifiers: string;
  textSpan: { start: number; length: number };
  displayParts?: { text: string; kind: string }[];
  documentation?: { text: string; kind: string }[];
  tags?: { name: string; text?: { text: string }[] }[];
}

export interface Converter {
  convert(prevDecl: string, src: string): Conversion;
  inspect(prevDecl: string, src: string, position: number): QuickInfo | undefined;
  complete(prevDecl: string, src: string, position: number): Completion;
  /**
   * Speculative checker: build, while the kernel is idle, one of the programs
   * the next cell's compile would build (see `speculation`), for the
   * declarations `prevDecl`. Nothing changes for later cells but their speed.
   * Returns true when nothing is left to prepare.
   */
  prepare(prevDecl: string): boolean;
  /** How many compiles took over a prepared program, and how many could not (D2L_SPECULATIVE_CHECKER=0: never prepared, never taken). */
  readonly speculationStats: { adopted: number; missed: number; pooled: number };
  close(): void;
}

/** How many prepared programs `prepare` keeps: tslab compiles a cell that declares names twice. */
const POOL_SIZE = 2;

/** Completion candidates at a position, with each one's kind for the front end (parallel to `candidates`). */
export interface Completion {
  /** The replaced span, as indices into the cell's string. */
  start: number;
  end: number;
  candidates: string[];
  /** `completionType` of each candidate's TypeScript kind: function, class, variable, property, keyword, module, ... */
  kinds: string[];
}

/**
 * The type JupyterLab shows beside a completion (its `_jupyter_types_experimental`
 * type), from TypeScript's `ScriptElementKind` of the entry. Kinds with no
 * better name (e.g. "string" for a string-literal completion) pass through.
 */
export function completionType(kind: string): string {
  switch (kind) {
    case "function":
    case "local function":
    case "method":
    case "constructor":
    case "construct":
    case "call":
      return "function";
    case "class":
    case "local class":
    case "interface":
    case "type":
    case "enum":
    case "type parameter":
    case "primitive type":
      return "class";
    case "var":
    case "let":
    case "const":
    case "local var":
    case "using":
    case "await using":
    case "parameter":
    case "enum member":
      return "variable";
    case "property":
    case "getter":
    case "setter":
    case "accessor":
    case "index":
    case "JSX attribute":
      return "property";
    case "keyword":
      return "keyword";
    case "module":
    case "external module name":
    case "alias":
      return "module";
    default:
      return kind || "text";
  }
}

/**
 * The kinds of the aliases among completion candidates (imports and re-exports:
 * `tf`, `d2l`, and every d2l function, which the library re-exports), from the
 * symbol each one names: "function", "class", "variable", "module", ...
 * Member completions (`d2l.trainC`) look the names up among the exports or
 * properties of the expression before the dot; others among the aliases in scope.
 */
function aliasKinds(ts: typeof TS, at: { program: TS.Program; sourceFile: TS.SourceFile; position: number }, names: Set<string>): Map<string, string> {
  const out = new Map<string, string>();
  try {
    const checker = at.program.getTypeChecker();
    const findPrecedingToken = (ts as unknown as { findPrecedingToken: (pos: number, sf: TS.SourceFile) => TS.Node | undefined }).findPrecedingToken;
    const token = findPrecedingToken(at.position, at.sourceFile);
    const parent = token?.parent;
    let left: TS.Node | undefined;
    if (token && parent && ts.isPropertyAccessExpression(parent) && (parent.name === token || token.kind === ts.SyntaxKind.DotToken)) left = parent.expression;
    else if (token && parent && ts.isQualifiedName(parent) && (parent.right === token || token.kind === ts.SyntaxKind.DotToken)) left = parent.left;
    let symbols: readonly TS.Symbol[];
    if (left) {
      const target = checker.getSymbolAtLocation(left);
      const resolved = target && target.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(target) : target;
      symbols = resolved && resolved.flags & ts.SymbolFlags.Module ? checker.getExportsOfModule(resolved) : checker.getPropertiesOfType(checker.getTypeAtLocation(left));
    } else {
      symbols = checker.getSymbolsInScope(token ?? at.sourceFile, ts.SymbolFlags.Alias);
    }
    for (const sym of symbols) {
      if (!names.has(sym.name) || out.has(sym.name)) continue;
      const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
      const kind = kindOfFlags(ts, target.flags);
      if (kind) out.set(sym.name, kind);
    }
  } catch {
    // The kinds are a hint for the front end: on any surprise, leave "alias" (shown as module).
  }
  return out;
}

function kindOfFlags(ts: typeof TS, f: number): string | undefined {
  const F = ts.SymbolFlags;
  if (f & F.Class) return "class";
  if (f & (F.Function | F.Method | F.Constructor)) return "function";
  if (f & (F.Interface | F.TypeAlias | F.Enum | F.TypeParameter)) return "class";
  if (f & F.Variable) return "var";
  if (f & (F.Property | F.Accessor)) return "property";
  if (f & F.EnumMember) return "enum member";
  if (f & F.Module) return "module";
  return undefined;
}

const TSLAB_TS = "@tslab/typescript-for-tslab";

/** tslab's file names for the cell and for the declarations carried from earlier cells. */
const CELL_FILE = "/__tslab__.ts";
const DECL_FILE = "/__prev__.d.ts";

/** What adoption reads of a SourceFile (TypeScript's internal fields included). */
interface SourceFileLike {
  fileName: string;
  text: string;
  isDeclarationFile: boolean;
  languageVersion: number;
  impliedNodeFormat?: number;
  setExternalModuleIndicator?: unknown;
  referencedFiles: readonly unknown[];
  typeReferenceDirectives: readonly unknown[];
  libReferenceDirectives: readonly unknown[];
  [k: string]: unknown;
}
interface CompilerHostLike {
  getSourceFile(fileName: string, options: Record<string, unknown>): SourceFileLike | undefined;
}

/** A program built while the kernel was idle, with an empty cell, its checker initialized. */
interface Prepared {
  program: TsProgram;
  cell: SourceFileLike;
  declText: string;
  options: Record<string, unknown>;
}

/**
 * The speculative checker. A new cell costs a new Program and a new type
 * checker: reusing the old program's files still takes a pass over all 855 of
 * them (tfjs, Node's types, the standard library), and initializing a checker
 * merges the globals and module augmentations of every one; together about
 * half of a trivial cell's compile. While the kernel is idle, `prepare` builds
 * such programs with an empty cell against the current declarations; the next
 * cell then takes one over: the empty cell's SourceFile object, which the
 * program and checker hold, is given the new cell's parsed content and bound
 * again, and nothing else of the program depends on the cell's text as long as
 * the cell imports nothing (no import, require, reference or declare: those
 * cells take the ordinary path). The placeholder is never checked, so the
 * checker has no results for it that the real cell could inherit; each
 * prepared program serves one compile (tslab compiles a cell that declares
 * names twice, hence a pool).
 */
const speculation: { preparing: boolean; pool: Prepared[]; adopted: number; missed: number } = { preparing: false, pool: [], adopted: 0, missed: 0 };

/** Program-level fields of a SourceFile, set when the program took it in: kept as the placeholder had them. */
const PROGRAM_FIELDS = new Set([
  "fileName",
  "path",
  "resolvedPath",
  "originalFileName",
  "imports",
  "moduleAugmentations",
  "ambientModuleNames",
  "resolvedModules",
  "resolvedTypeReferenceDirectiveNames",
  "packageJsonScope",
  "packageJsonLocations",
  "impliedNodeFormat",
  "redirectInfo",
]);

/** Text that may add a file, a module resolution or a global to the program: such a cell compiles the ordinary way. */
const NEEDS_RESOLUTION = /\bimport\b|\brequire\b|\bdeclare\b|\/\/\/|\bglobal\b|\bmodule\b/;

/** A relative path in a string, or a triple-slash directive: text that may name a file of the user's. */
const USER_FILE = /["'`]\.\.?\/|\/\/\//;

/**
 * Take over a prepared program for the cell the host now has, if one fits:
 * same declarations text, a cell that imports nothing, and a program with no
 * source file of the user's (an imported .ts module may have changed on disk).
 */
function adoptPrepared(ts: TsModule, oldProgram: TsProgram | undefined, host: CompilerHostLike, options: Record<string, unknown>): TsProgram | undefined {
  void oldProgram;
  if (process.env.D2L_SPECULATIVE_CHECKER === "0") return undefined;
  while (speculation.pool.length > 0) {
    const p = speculation.pool.pop() as Prepared;
    if (p.options !== options) continue;
    const parseOptions = { languageVersion: p.cell.languageVersion, impliedNodeFormat: p.cell.impliedNodeFormat, setExternalModuleIndicator: p.cell.setExternalModuleIndicator };
    const decl = host.getSourceFile(p.cell.fileName.replace(CELL_FILE, DECL_FILE), parseOptions);
    if (!decl || decl.text !== p.declText) {
      speculation.pool.length = 0;
      break;
    }
    const cell = host.getSourceFile(p.cell.fileName, parseOptions);
    if (
      !cell ||
      NEEDS_RESOLUTION.test(cell.text) ||
      cell.referencedFiles.length + cell.typeReferenceDirectives.length + cell.libReferenceDirectives.length > 0 ||
      p.program.getSourceFiles().some((f) => !f.isDeclarationFile && f !== (p.cell as unknown))
    ) {
      break;
    }
    const target = p.cell as Record<string, unknown>;
    const source = cell as Record<string, unknown>;
    for (const k of Object.keys(target)) if (!PROGRAM_FIELDS.has(k) && !(k in source)) target[k] = undefined;
    for (const k of Object.keys(source)) if (!PROGRAM_FIELDS.has(k)) target[k] = source[k];
    (ts as unknown as { bindSourceFile(f: unknown, o: unknown): void }).bindSourceFile(target, p.program.getCompilerOptions());
    speculation.adopted++;
    return p.program;
  }
  speculation.missed++;
  return undefined;
}

let captured: { esmMap?: string; cjsMap?: string } = {};
/** The program, file and position of the last completion tslab asked TypeScript for. */
let lastCompletion: { program: TS.Program; sourceFile: TS.SourceFile; position: number } | undefined;
let realTs: TsModule | undefined;

/** Load TypeScript as tslab does and put the wrapped module in its place. */
function patchTypeScript(): TsModule {
  if (realTs) return realTs;
  const tslabDir = path.dirname(require.resolve("tslab/package.json"));
  const tsPath = require.resolve(TSLAB_TS, { paths: [tslabDir] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require(tsPath) as TsModule;
  realTs = ts;
  const createWatchCompilerHost = (...args: unknown[]): WatchHost => {
    const opts = args[1] as Record<string, unknown>;
    args[1] = { ...opts, strict: true, sourceMap: true, inlineSources: false };
    args[3] = createLightBuilder;
    const host = ts.createWatchCompilerHost(...args);
    // TypeScript watches directories (type roots, failed module lookups) and,
    // when one changes, arms a second debounce timer. tslab's fake timer allows
    // only one pending timer and throws "Unexpected pending rebuildTimer" on the
    // next cell, which would break every later cell after a student merely
    // saved a file next to the notebook. Cells are recompiled on every
    // execution anyway, so directory events are not needed.
    host.watchDirectory = () => ({ close: () => undefined });
    // tslab assigns afterProgramCreate after this returns; intercept the
    // assignment so that every emit also hands us the source map.
    let userHook: ((b: Builder) => void) | undefined;
    Object.defineProperty(host, "afterProgramCreate", {
      configurable: true,
      get: () => (userHook ? wrapHook : undefined),
      set: (fn: (b: Builder) => void) => {
        userHook = fn;
      },
    });
    function wrapHook(b: Builder): void {
      const emit = b.emit.bind(b);
      b.emit = (sf, write, cancel, dtsOnly, transformers, ...rest) =>
        emit(
          sf,
          write &&
            ((name: string, data: string, ...wrest: unknown[]) => {
              if (name.endsWith("__tslab__.js.map")) {
                captured.esmMap = data;
                return;
              }
              write(name, data, ...wrest);
            }),
          cancel,
          dtsOnly,
          withShorthandFix(ts as unknown as typeof TS, b, transformers),
          ...rest,
        );
      userHook?.(b);
    }
    return host;
  };
  // TypeScript's incremental builder recomputes, on every cell, the import
  // graph of every file in the program (hundreds of .d.ts files of tfjs and
  // Node); tslab needs none of that. A plain Program, reusing the previous
  // one's unchanged files, halves the time of a trivial cell.
  const createLightBuilder = (
    rootNames: readonly string[],
    options: Record<string, unknown>,
    host: unknown,
    old: LightBuilder | undefined,
    configFileParsingDiagnostics: unknown,
    projectReferences: unknown,
  ): LightBuilder => {
    const oldProgram = old?.getProgramOrUndefined();
    const ready = speculation.preparing ? undefined : adoptPrepared(ts, oldProgram, host as CompilerHostLike, options);
    if (ready) return lightBuilder(ready);
    const program = ts.createProgram({
      rootNames,
      options,
      host,
      oldProgram,
      configFileParsingDiagnostics,
      projectReferences,
    });
    // Creating the checker binds the files, which sets the parent pointers
    // completion and quick info walk (files kept from the old program are
    // already bound, so this costs only the new cell).
    program.getTypeChecker();
    if (speculation.preparing) {
      const cell = rootNames.find((n) => n.endsWith(CELL_FILE));
      const decl = rootNames.find((n) => n.endsWith(DECL_FILE));
      const cellFile = cell === undefined ? undefined : (program.getSourceFile(cell) as SourceFileLike | undefined);
      const declFile = decl === undefined ? undefined : (program.getSourceFile(decl) as SourceFileLike | undefined);
      if (cellFile && declFile) speculation.pool.push({ program, cell: cellFile, declText: declFile.text, options });
    }
    return lightBuilder(program);
  };
  const lightBuilder = (program: TsProgram): LightBuilder => {
    return {
      getProgram: () => program,
      getProgramOrUndefined: () => program,
      releaseProgram: () => undefined,
      getCompilerOptions: () => program.getCompilerOptions(),
      getSourceFile: (f: string) => program.getSourceFile(f),
      getSourceFiles: () => program.getSourceFiles(),
      getCurrentDirectory: () => program.getCurrentDirectory(),
      emit: (...a: unknown[]) => program.emit(...a),
      // The files a cell needs emitted: itself and the user's own modules.
      getAllDependencies: (sf: { fileName: string }) => [
        sf.fileName,
        ...program
          .getSourceFiles()
          .filter((f) => !f.isDeclarationFile && !f.fileName.includes("/node_modules/") && f.fileName !== sf.fileName)
          .map((f) => f.fileName),
      ],
    };
  };
  const transpileModule: TsModule["transpileModule"] = (input, options) => {
    const compilerOptions = { ...(options.compilerOptions ?? {}), sourceMap: true };
    const out = ts.transpileModule(input, { ...options, compilerOptions });
    captured.cjsMap = out.sourceMapText;
    return { ...out, outputText: stripMapComments(out.outputText) };
  };
  const wrapped: Record<string, unknown> = {};
  for (const key of Object.keys(ts)) {
    Object.defineProperty(wrapped, key, {
      enumerable: true,
      configurable: true,
      get: () => (ts as unknown as Record<string, unknown>)[key],
    });
  }
  Object.defineProperty(wrapped, "createWatchCompilerHost", { enumerable: true, value: createWatchCompilerHost });
  Object.defineProperty(wrapped, "transpileModule", { enumerable: true, value: transpileModule });
  // Completion: note the program, file and position, so that entries of kind
  // "alias" (imports and re-exports, e.g. every d2l.* function) can be resolved
  // to what they name. tslab calls ts.Completions.getCompletionsAtPositionForTslab.
  const completions = (ts as unknown as { Completions: Record<string, unknown> }).Completions;
  const wrappedCompletions: Record<string, unknown> = {};
  for (const key of Object.keys(completions)) {
    Object.defineProperty(wrappedCompletions, key, { enumerable: true, configurable: true, get: () => completions[key] });
  }
  const getCompletions = completions.getCompletionsAtPositionForTslab as ((...a: unknown[]) => unknown) | undefined;
  if (typeof getCompletions === "function") {
    Object.defineProperty(wrappedCompletions, "getCompletionsAtPositionForTslab", {
      enumerable: true,
      value: (...a: unknown[]) => {
        // (host, program, log, sourceFile, position, ...)
        lastCompletion = { program: a[1] as TS.Program, sourceFile: a[3] as TS.SourceFile, position: a[4] as number };
        return getCompletions(...a);
      },
    });
  }
  Object.defineProperty(wrapped, "Completions", { enumerable: true, value: wrappedCompletions });
  const cached = require.cache[tsPath];
  if (!cached) throw new Error(`d2l-ts: could not find ${TSLAB_TS} in the module cache`);
  cached.exports = wrapped;
  return ts;
}

function stripMapComments(js: string): string {
  return js.replace(/^\/\/# sourceMappingURL=.*$/gm, "");
}

/** Build a position mapper from tslab's two source maps (CJS → ESM → TS). */
function makeMapper(esmMap?: string, cjsMap?: string): Conversion["mapPosition"] {
  if (!esmMap || !cjsMap) return undefined;
  // Decoded on the first lookup (a stack that runs through the cell), not for every cell.
  let maps: { cjs: TraceMap; esm: TraceMap } | undefined;
  // tslab prepends one line ("export {};") to the cell before compiling it.
  const PREFIX_LINES = 1;
  return (line, column) => {
    maps ??= { cjs: new TraceMap(cjsMap), esm: new TraceMap(esmMap) };
    const { cjs, esm } = maps;
    const a = originalPositionFor(cjs, { line, column });
    if (a.line == null || a.column == null) return null;
    const b = originalPositionFor(esm, { line: a.line, column: a.column });
    if (b.line == null || b.column == null) return null;
    const cellLine = b.line - PREFIX_LINES;
    if (cellLine < 1) return null;
    return { line: cellLine, column: b.column };
  };
}

/** Create the converter every cell goes through. Takes about a second. */
export function createCellConverter(): Converter {
  const ts = patchTypeScript();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tslabConverter = require("tslab/dist/converter") as {
    createConverter: () => {
      convert: (p: string, s: string) => Conversion;
      inspect: (p: string, s: string, pos: number) => QuickInfo | undefined;
      complete: (p: string, s: string, pos: number) => { start: number; end: number; candidates: string[]; original?: { entries?: { name: string; kind: string }[] } };
      close: () => void;
    };
  };
  const conv = tslabConverter.createConverter();
  let preparedFor: string | undefined;
  let last: { prevDecl: string; src: string; result: Conversion } | undefined;
  let placeholders = 0;
  return {
    convert(prevDecl, src) {
      // The same cell against the same declarations (a cell run again) gives the same conversion. The
      // watch program used to notice that by itself; now the idle preparing changes its cell in between.
      if (last && last.prevDecl === prevDecl && last.src === src) return last.result;
      last = undefined;
      captured = {};
      const r = conv.convert(prevDecl, src);
      if (r.output) {
        r.output = stripMapComments(r.output);
        r.mapPosition = makeMapper(captured.esmMap, captured.cjsMap);
      }
      // Not when the cell or an earlier one may name a file of the user's (a module that may change on disk).
      if (!USER_FILE.test(src) && !USER_FILE.test(prevDecl)) last = { prevDecl, src, result: r };
      return r;
    },
    inspect: (p, s, pos) => conv.inspect(p, s, pos),
    prepare(prevDecl) {
      if (process.env.D2L_SPECULATIVE_CHECKER === "0") return true;
      if (preparedFor !== prevDecl) speculation.pool.length = 0;
      preparedFor = prevDecl;
      speculation.preparing = true;
      try {
        if (speculation.pool.length >= POOL_SIZE) return true;
        // Each placeholder differs from the last, so that tslab's watch program builds a new program.
        const before = speculation.pool.length;
        conv.inspect(prevDecl, `// prepared ${++placeholders}`, 0);
        return speculation.pool.length === before || speculation.pool.length >= POOL_SIZE;
      } finally {
        speculation.preparing = false;
      }
    },
    get speculationStats() {
      return { adopted: speculation.adopted, missed: speculation.missed, pooled: speculation.pool.length };
    },
    complete(p, s, pos) {
      lastCompletion = undefined;
      const r = conv.complete(p, s, pos);
      const kindOf = new Map<string, string>();
      for (const e of r.original?.entries ?? []) if (!kindOf.has(e.name)) kindOf.set(e.name, e.kind);
      const aliases = new Set(r.candidates.filter((c) => kindOf.get(c) === "alias"));
      if (aliases.size > 0 && lastCompletion) {
        for (const [name, kind] of aliasKinds(ts as unknown as typeof TS, lastCompletion, aliases)) kindOf.set(name, kind);
      }
      lastCompletion = undefined;
      return { start: r.start, end: r.end, candidates: r.candidates, kinds: r.candidates.map((c) => completionType(kindOf.get(c) ?? "")) };
    },
    close: () => conv.close(),
  };
}

/** TypeScript's diagnostic code for "Unterminated template literal." */
const UNTERMINATED_TEMPLATE = 1160;

/** `complete`, `incomplete` (with an indent) or `invalid`, for is_complete_request. */
export function codeCompleteness(code: string): { status: "complete" | "incomplete" | "invalid"; indent?: string } {
  // TypeScript is wrapped before tslab's converter is first loaded: it takes the module it finds then.
  const ts = patchTypeScript();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { isCompleteCode } = require("tslab/dist/converter") as {
    isCompleteCode: (c: string) => { completed: boolean; indent?: string };
  };
  const r = isCompleteCode(code);
  if (!r.completed) return { status: "incomplete", indent: r.indent ?? "" };
  const sf = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.Latest, false);
  const diags = sf.parseDiagnostics ?? [];
  // A template literal left open is one the user is still typing over several lines.
  if (diags.some((d) => d.code === UNTERMINATED_TEMPLATE)) return { status: "incomplete", indent: "" };
  if (diags.length > 0) return { status: "invalid" };
  return { status: "complete" };
}

/** The TypeScript module the converter uses, for small parsing jobs. */
export function typescript(): TsModule {
  return patchTypeScript();
}
