/**
 * Runs cells: compile with the cell converter, instrument for interrupts,
 * evaluate in this V8 context, and map errors back to the cell's lines.
 *
 * tslab's own `createExecutor` is not used for the run itself: it names every
 * cell `evalmachine.<anonymous>` (so a stack cannot say which cell), reports
 * results and errors through `console`, and has no way to stop the background
 * work of an interrupted cell. Its converter, which is the hard part, is.
 */
import * as path from "path";
import * as vm from "vm";
import Module = require("module");
import type * as TS from "typescript";
import { setTimeout as realSetTimeout, clearTimeout as realClearTimeout } from "timers";

/** How long a cell's end-of-cell work (final plot renders) may delay its reply. */
const CELL_END_LIMIT_MS = 10_000;
import { Converter, Conversion, CellDiagnostic, createCellConverter, typescript } from "./compiler";

import { InterruptedError as LibInterruptedError } from "../lib/interrupt";

/**
 * Thrown into code that belongs to an interrupted cell. The same class as the
 * library's `d2l.InterruptedError` (which training loops throw between
 * batches), so the session treats both alike.
 */
export const InterruptedError = LibInterruptedError;
export type InterruptedError = LibInterruptedError;
const KERNEL_INTERRUPT_MESSAGE = "Interrupted by the user (the kernel keeps its state; run the cell again to resume)";

export type CellResult =
  { status: "ok"; hasValue: boolean; value?: unknown } | { status: "compile-error"; diagnostics: CellDiagnostic[]; code: string } | { status: "runtime-error"; error: unknown };

/** Global the instrumented cell code calls; short to keep stacks readable. */
const HOOK = "__d2l_k";
const EXPORTS = "__d2l_cell";

export interface InterruptState {
  /** Bumped by every interrupt; work started under an older value is cancelled. */
  generation(): number;
}

/**
 * The executor. One per kernel. `interrupt()` cancels the running cell and
 * everything earlier cells left pending (timers, awaited continuations).
 */
export class Executor {
  readonly converter: Converter;
  private prevDecl = "";
  private readonly exportsTarget: Record<string, unknown> = {};
  private readonly exportsProxy: Record<string, unknown>;
  private readonly mappers = new Map<number, NonNullable<Conversion["mapPosition"]>>();
  private readonly insertions = new Map<number, Map<number, { col: number; len: number }[]>>();
  private readonly sideOutputs = new Map<string, string>();
  private readonly sideModules = new Map<string, NodeModule>();
  private gen = 0;
  private rejectRunning: ((e: unknown) => void) | null = null;
  private readonly req: NodeJS.Require;

  constructor(
    private readonly rootDir: string,
    private readonly getGeneration?: () => number,
  ) {
    this.converter = createCellConverter();
    const target = this.exportsTarget;
    this.exportsProxy = new Proxy(target, {
      // TypeScript emits named imports as defineProperty with a getter; store
      // the value so later cells can reassign it.
      defineProperty: (_t, prop, attrs) => {
        if (prop === "__esModule") return true;
        target[prop as string] = attrs.get ? attrs.get() : attrs.value;
        return true;
      },
    });
    this.req = this.makeRequire();
    const g = globalThis as unknown as Record<string, unknown>;
    g[EXPORTS] = { exports: this.exportsProxy, require: this.req };
    // `await X` in a cell becomes `resume(enter(), await X)`: the generation
    // is read before the await starts and checked when it resumes, so any
    // await that was pending across an interrupt throws instead of going on.
    g[HOOK] = {
      enter: (): number => this.generation(),
      resume: <T>(since: number, v: T): T => {
        if (this.generation() !== since) throw new InterruptedError(KERNEL_INTERRUPT_MESSAGE);
        return v;
      },
      iter: <T>(source: AsyncIterable<T> | Iterable<T>): AsyncIterable<T> => this.guardIterable(source),
    };
    (g as Record<symbol, unknown>)[Symbol.for("d2l-ts.kernel")] = {
      generation: (): number => this.generation(),
      onCellEnd: (fn: () => unknown): void => {
        if (!this.cellEndHooks.includes(fn)) this.cellEndHooks.push(fn);
      },
    };
    this.wrapTimers();
  }

  /** The current interrupt generation (shared with the protocol thread when given). */
  generation(): number {
    return this.getGeneration ? this.getGeneration() : this.gen;
  }

  /** `for await` over a source: each step checks that no interrupt came while it waited. */
  private guardIterable<T>(source: AsyncIterable<T> | Iterable<T>): AsyncIterable<T> {
    const self = this;
    return {
      [Symbol.asyncIterator](): AsyncIterator<T> {
        const it = Symbol.asyncIterator in source ? (source as AsyncIterable<T>)[Symbol.asyncIterator]() : (source as Iterable<T>)[Symbol.iterator]();
        return {
          async next(): Promise<IteratorResult<T>> {
            const since = self.generation();
            const r = await it.next();
            if (self.generation() !== since) {
              await it.return?.();
              throw new InterruptedError(KERNEL_INTERRUPT_MESSAGE);
            }
            return r;
          },
          async return(value?: unknown): Promise<IteratorResult<T>> {
            await it.return?.(value as T);
            return { done: true, value: value as T };
          },
        };
      },
    };
  }

  /** Called with true before compiling and false after (compiling must not be terminated). */
  onCompile: ((busy: boolean) => void) | undefined;

  /** Variables the cells defined, by name. */
  get locals(): Record<string, unknown> {
    return this.exportsTarget;
  }

  /** Declarations carried to the next cell (for inspect and complete). */
  get declarations(): string {
    return this.prevDecl;
  }

  /** Cancel the running cell (if it awaits) and all pending work of earlier cells. */
  interrupt(): void {
    if (!this.getGeneration) this.gen++;
    const r = this.rejectRunning;
    this.rejectRunning = null;
    r?.(new InterruptedError(KERNEL_INTERRUPT_MESSAGE));
  }

  /** Compile and run one cell. `cell` names it in stack traces. */
  /**
   * Run one cell. Whatever the cell registered with the kernel hook's
   * `onCellEnd` (a live plot's final render, say) runs before this returns,
   * so its last output lands before the cell goes idle: nbconvert and other
   * clients drop outputs that arrive after that.
   */
  async execute(src: string, cell: number): Promise<CellResult> {
    try {
      return await this.executeCell(src, cell);
    } finally {
      await this.runCellEnd();
    }
  }

  private readonly cellEndHooks: (() => unknown)[] = [];

  private async runCellEnd(): Promise<void> {
    const hooks = this.cellEndHooks.splice(0);
    if (hooks.length === 0) return;
    const settled = Promise.allSettled(hooks.map(async (fn) => fn()));
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((r) => {
      timer = realSetTimeout(r, CELL_END_LIMIT_MS);
    });
    await Promise.race([settled, limit]);
    if (timer) realClearTimeout(timer);
  }

  /** Compile a cell against the declarations so far (compiling must not be terminated: onCompile says when it runs). */
  private compile(src: string): Conversion {
    this.onCompile?.(true);
    try {
      return this.converter.convert(this.prevDecl, src);
    } finally {
      this.onCompile?.(false);
    }
  }

  /**
   * Compile a cell against the declarations so far and throw the result away:
   * nothing runs, and what later cells see does not change. The kernel does
   * this with a few typical cells while it is idle after the prelude, so that
   * V8 has compiled TypeScript's checker and emitter and the types of `tf` and
   * `d2l` have been resolved once before the user's first cell, whose compile
   * would otherwise take several times as long as a later one.
   */
  warmUp(src: string): void {
    this.compile(src);
  }

  /**
   * While the kernel is idle: build one program for the next cell's compile
   * ahead of it (the speculative checker, compiler.ts). Nothing runs and what
   * later cells see does not change. Returns true when nothing is left to do.
   */
  prepareNext(): boolean {
    this.onCompile?.(true);
    try {
      return this.converter.prepare(this.prevDecl);
    } finally {
      this.onCompile?.(false);
    }
  }

  private async executeCell(src: string, cell: number): Promise<CellResult> {
    const conv = this.compile(src);
    if (conv.sideOutputs) {
      for (const o of conv.sideOutputs) {
        this.sideModules.delete(o.path);
        this.sideOutputs.set(o.path, o.data);
      }
    }
    if (conv.diagnostics.length > 0) return { status: "compile-error", diagnostics: conv.diagnostics, code: src };
    if (!conv.output) {
      this.prevDecl = conv.declOutput ?? "";
      return { status: "ok", hasValue: false };
    }
    // One parse of the compiled code gives both the instrumented code and whether it awaits at the top level.
    const { code, inserted, topLevelAwait } = instrumentCell(conv.output);
    if (conv.mapPosition) this.mappers.set(cell, conv.mapPosition);
    this.insertions.set(cell, inserted);
    const isAsync = conv.hasToplevelAwait === true || topLevelAwait;
    const prefix = isAsync ? "(async function(exports, require) { " : "(function(exports, require) { ";
    const wrapped = `${prefix}${code}\n})(${EXPORTS}.exports, ${EXPORTS}.require)`;
    this.prefixLen = prefix.length;
    let ret: unknown;
    try {
      ret = vm.runInThisContext(wrapped, { filename: cellFileName(cell) });
    } catch (e) {
      return { status: "runtime-error", error: e };
    }
    if (isAsync) {
      const interrupted = new Promise<never>((_, reject) => {
        this.rejectRunning = reject;
      });
      try {
        await Promise.race([ret as Promise<unknown>, interrupted]);
      } catch (e) {
        return { status: "runtime-error", error: e };
      } finally {
        this.rejectRunning = null;
      }
    }
    this.prevDecl = conv.declOutput ?? "";
    if (conv.lastExpressionVar && conv.lastExpressionVar in this.exportsTarget) {
      const value = this.exportsTarget[conv.lastExpressionVar];
      delete this.exportsTarget[conv.lastExpressionVar];
      return { status: "ok", hasValue: value !== undefined, value };
    }
    return { status: "ok", hasValue: false };
  }

  /**
   * Compile a cell for its declarations only: later cells see its names and
   * types, but nothing runs. The check kernel does this with each answer
   * cell (the instructor's version), then binds the names to the
   * submission's values (remote.ts). Returns the names the cell declares.
   */
  declareOnly(src: string): { status: "ok"; names: string[] } | Extract<CellResult, { status: "compile-error" }> {
    const conv = this.compile(src);
    if (conv.diagnostics.length > 0) return { status: "compile-error", diagnostics: conv.diagnostics, code: src };
    this.prevDecl = conv.declOutput ?? this.prevDecl;
    return { status: "ok", names: topLevelNames(src) };
  }

  private prefixLen = 0;

  /**
   * Rewrite a stack so that frames in cells name the cell and its own line
   * and column; frames inside the kernel are dropped.
   */
  mapStack(stack: string): string[] {
    const out: string[] = [];
    for (const line of stack.split("\n")) {
      if (!/^\s+at /.test(line)) continue;
      const m = /<cell (\d+)>:(\d+):(\d+)/.exec(line);
      if (m) {
        const pos = this.mapCellPosition(Number(m[1]), Number(m[2]), Number(m[3]));
        out.push(line.replace(m[0], pos ? `<cell ${m[1]}>:${pos.line}:${pos.column}` : `<cell ${m[1]}>`));
        continue;
      }
      if (/^\s+at <cell \d+>$/.test(line)) continue;
      if (line.includes(__dirname) || line.includes("node:")) continue;
      out.push(line);
    }
    return out;
  }

  /** Map a 1-based line and column in a cell's generated code to the cell's source (1-based). */
  mapCellPosition(cell: number, line: number, column: number): { line: number; column: number } | null {
    const mapper = this.mappers.get(cell);
    if (!mapper) return null;
    let col = column - 1;
    if (line === 1) col -= this.prefixLen;
    // Insertion columns are in instrumented coordinates: compare them all with
    // the instrumented column, then take their total length off once.
    let shift = 0;
    for (const ins of this.insertions.get(cell)?.get(line) ?? []) if (ins.col < col) shift += ins.len;
    col -= shift;
    const p = mapper(line, Math.max(0, col));
    return p ? { line: p.line, column: p.column + 1 } : null;
  }

  /** The cell a stack's innermost cell frame names, mapped; null if none. */
  firstCellFrame(stack: string): { cell: number; line: number; column: number } | null {
    const m = /<cell (\d+)>:(\d+):(\d+)/.exec(stack);
    if (!m) return null;
    const p = this.mapCellPosition(Number(m[1]), Number(m[2]), Number(m[3]));
    return p ? { cell: Number(m[1]), ...p } : null;
  }

  private makeRequire(): NodeJS.Require {
    const base = Module.createRequire(path.join(this.rootDir, "__cell__.js"));
    const sideOutputs = this.sideOutputs;
    const sideModules = this.sideModules;
    const rootDir = this.rootDir;
    const fromSide = (id: string): unknown => {
      if (!id.startsWith(".") && !path.isAbsolute(id)) return undefined;
      let filename = path.resolve(rootDir, id);
      if (path.extname(filename) === "") filename += ".js";
      const cached = sideModules.get(filename);
      if (cached) return cached.exports;
      const data = sideOutputs.get(filename);
      if (data === undefined) return undefined;
      const mod = new Module(filename, module) as NodeModule & { _compile(code: string, file: string): void; paths: string[] };
      mod.filename = filename;
      mod.paths = (Module as unknown as { _nodeModulePaths(p: string): string[] })._nodeModulePaths(path.dirname(filename));
      mod._compile(data, filename);
      sideModules.set(filename, mod);
      return mod.exports;
    };
    return new Proxy(base, {
      apply: (_t, thisArg, args: [string]) => {
        const side = fromSide(args[0]);
        return side !== undefined ? side : base.apply(thisArg, args);
      },
    });
  }

  /**
   * Timers started before an interrupt never fire after it (an interval is
   * cleared), and callbacks run as microtasks, where V8 can terminate a
   * runaway loop without tearing Node's timer bookkeeping.
   */
  private wrapTimers(): void {
    const g = globalThis as unknown as Record<string, unknown>;
    const origTimeout = setTimeout;
    const origInterval = setInterval;
    const origImmediate = setImmediate;
    const origClearInterval = clearInterval;
    const self = this;
    type Fn = (...a: unknown[]) => void;
    function guard(fn: Fn, onStale?: () => void): Fn {
      const since = self.generation();
      return (...args: unknown[]) => {
        if (self.generation() !== since) {
          onStale?.();
          return;
        }
        queueMicrotask(() => fn(...args));
      };
    }
    const wrappedTimeout = function (fn: unknown, ms?: number, ...args: unknown[]) {
      if (typeof fn !== "function") return origTimeout(fn as Fn, ms, ...args);
      return origTimeout(guard(fn as Fn), ms, ...args);
    };
    const wrappedInterval = function (fn: unknown, ms?: number, ...args: unknown[]) {
      if (typeof fn !== "function") return origInterval(fn as Fn, ms, ...args);
      let handle: NodeJS.Timeout | undefined = undefined;
      handle = origInterval(
        guard(fn as Fn, () => origClearInterval(handle)),
        ms,
        ...args,
      );
      return handle;
    };
    const wrappedImmediate = function (fn: unknown, ...args: unknown[]) {
      if (typeof fn !== "function") return origImmediate(fn as Fn, ...args);
      return origImmediate(guard(fn as Fn), ...args);
    };
    for (const [name, w, o] of [
      ["setTimeout", wrappedTimeout, origTimeout],
      ["setInterval", wrappedInterval, origInterval],
      ["setImmediate", wrappedImmediate, origImmediate],
    ] as const) {
      Object.assign(w, o); // keeps util.promisify.custom and friends
      g[name] = w;
    }
  }
}

/**
 * Parse a cell's compiled code as a module: in a script, `await (p)` at the
 * top level is a call of a function named `await`; in a module (where
 * top-level await is allowed) it is the await a cell means.
 */
function parseCell(js: string): TS.SourceFile {
  const ts = typescript() as unknown as typeof TS;
  const options: TS.CreateSourceFileOptions = {
    languageVersion: ts.ScriptTarget.Latest,
    setExternalModuleIndicator: (file) => {
      (file as unknown as { externalModuleIndicator: true }).externalModuleIndicator = true;
    },
  };
  return ts.createSourceFile("cell.js", js, options, true, ts.ScriptKind.JS);
}

/**
 * True when compiled cell code awaits at its top level. tslab only notices a
 * top-level `await` expression (TypeScript's diagnostic 1308); a cell whose
 * only top-level await is a `for await` loop, or whose await is written
 * `await (p)` (a call of a function named `await` to a script parser),
 * compiles cleanly, so without this check it would run in a plain function
 * and fail ("Unexpected reserved word", "await is not defined").
 */
export function hasTopLevelAwait(js: string): boolean {
  return awaitsAtTopLevel(parseCell(js));
}

function awaitsAtTopLevel(sf: TS.SourceFile): boolean {
  const ts = typescript() as unknown as typeof TS;
  const visit = (node: TS.Node): boolean => {
    if (ts.isFunctionLike(node) || ts.isClassStaticBlockDeclaration(node)) return false;
    if (ts.isAwaitExpression(node)) return true;
    if (ts.isForOfStatement(node) && node.awaitModifier !== undefined) return true;
    return ts.forEachChild(node, visit) === true;
  };
  return visit(sf);
}

export function cellFileName(cell: number): string {
  return `<cell ${cell}>`;
}

/**
 * Make every `await` in a cell check, when it resumes, that no interrupt came
 * while it waited; `for await` loops check each step the same way.
 * Returns the code and the columns it inserted text at, per line (1-based).
 */
export function instrument(js: string): { code: string; inserted: Map<number, { col: number; len: number }[]> } {
  const { code, inserted } = instrumentCell(js);
  return { code, inserted };
}

/** `instrument`, and `hasTopLevelAwait` of the same code, from one parse. */
function instrumentCell(js: string): { code: string; inserted: Map<number, { col: number; len: number }[]>; topLevelAwait: boolean } {
  const ts = typescript() as unknown as TsLike;
  const parsed = parseCell(js);
  const topLevelAwait = awaitsAtTopLevel(parsed);
  const sf = parsed as unknown as ReturnType<TsLike["createSourceFile"]>;
  const edits: { pos: number; text: string; order: number }[] = [];
  const visit = (node: TsNode): void => {
    if (node.kind === ts.SyntaxKind.AwaitExpression) {
      edits.push({ pos: node.getStart(sf), text: `${HOOK}.resume(${HOOK}.enter(), `, order: 1 });
      edits.push({ pos: node.end, text: ")", order: 0 });
    } else if (node.kind === ts.SyntaxKind.ForOfStatement && node.awaitModifier && node.expression) {
      edits.push({ pos: node.expression.getStart(sf), text: `${HOOK}.iter(`, order: 1 });
      edits.push({ pos: node.expression.end, text: ")", order: 0 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  edits.sort((a, b) => a.pos - b.pos || a.order - b.order);
  const inserted = new Map<number, { col: number; len: number }[]>();
  let out = "";
  let last = 0;
  for (const e of edits) {
    out += js.slice(last, e.pos) + e.text;
    last = e.pos;
    const lc = sf.getLineAndCharacterOfPosition(e.pos);
    const list = inserted.get(lc.line + 1) ?? [];
    list.push({ col: lc.character, len: e.text.length });
    inserted.set(lc.line + 1, list);
  }
  out += js.slice(last);
  // Columns were recorded in original coordinates; convert to instrumented ones.
  for (const list of inserted.values()) {
    let shift = 0;
    for (const ins of list) {
      ins.col += shift;
      shift += ins.len;
    }
  }
  return { code: out, inserted, topLevelAwait };
}

interface TsNode {
  kind: number;
  end: number;
  awaitModifier?: unknown;
  expression?: TsNode;
  getStart(sf?: unknown): number;
}
interface TsLike {
  createSourceFile(
    n: string,
    t: string,
    target: number,
    setParents: boolean,
    kind: number,
  ): TsNode & {
    getLineAndCharacterOfPosition(p: number): { line: number; character: number };
  };
  forEachChild(n: TsNode, cb: (n: TsNode) => void): void;
  ScriptTarget: { Latest: number };
  ScriptKind: { JS: number };
  SyntaxKind: { AwaitExpression: number; ForOfStatement: number; Block: number };
}

/** The names a cell declares at its top level (variables, destructured ones included, functions, classes, enums). */
export function topLevelNames(src: string): string[] {
  const ts = typescript() as unknown as typeof TS;
  const sf = ts.createSourceFile("cell.ts", src, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const names: string[] = [];
  const bind = (n: TS.BindingName): void => {
    if (ts.isIdentifier(n)) names.push(n.text);
    else for (const el of n.elements) if (!ts.isOmittedExpression(el)) bind(el.name);
  };
  for (const st of sf.statements) {
    if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) bind(d.name);
    else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isEnumDeclaration(st)) && st.name) names.push(st.name.text);
  }
  return [...new Set(names)];
}
