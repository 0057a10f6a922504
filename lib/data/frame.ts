/**
 * A small column table with the few pandas operations the book uses on
 * tabular data (section 4.10, Kaggle house prices): `pd.read_csv`,
 * `pd.concat`, `iloc`, `dtypes`, standardizing and `fillna`,
 * `pd.get_dummies(..., dummy_na=True)`, `.values` as a tensor, and
 * `to_csv(index=False)`. Not a pandas replacement: enough to follow the book.
 *
 * A column is numeric (a `Float64Array`, `NaN` where a value is missing) when
 * every present value of it parses as a number, and a string column
 * (`null` where missing) otherwise, as pandas infers `float64` and `object`.
 */
import * as fs from "fs";
import * as tf from "@tensorflow/tfjs";
import { JUPYTER_DISPLAY } from "../plot/figure";

/** One column: numbers (`NaN` = missing) or strings (`null` = missing). */
export type FrameColumn = Float64Array | (string | null)[];

/** The kind of a column, as pandas' `dtypes` says it: `"float64"` or `"object"`. */
export type FrameDtype = "float64" | "object";

/** pandas' default missing-value markers (a subset), used by {@link readCsv}. */
export const DEFAULT_NA_VALUES: readonly string[] = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "#N/A", "n/a", "-NaN", "-nan"];

/**
 * A CSV file that cannot be read as a table; `path` names it, `line` is
 * 1-based (0 when the problem is not about one line), `problem` says what is wrong.
 *
 * @example
 * try { d2l.readCsv("prices.csv"); }
 * catch (e) { if (e instanceof d2l.CsvError) console.log(e.path, e.line, e.problem); }
 */
export class CsvError extends Error {
  constructor(
    readonly path: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(`${path}${line > 0 ? `, line ${line}` : ""}: ${problem}`);
    this.name = "CsvError";
  }
}

/**
 * Split CSV text into rows of fields (RFC 4180): fields separated by `sep`,
 * rows by `\n` or `\r\n`, a field in double quotes may hold the separator, line
 * breaks and `""` (one quote). Blank lines are skipped. Returns each row with
 * the 1-based line it starts on.
 *
 * @example
 * d2l.parseCsv('a,b\n1,"x, y"\n').map((r) => r.fields); // [["a","b"],["1","x, y"]]
 */
export function parseCsv(text: string, sep = ",", source = "CSV text"): { fields: string[]; line: number }[] {
  if (sep.length !== 1 || sep === '"' || sep === "\n" || sep === "\r")
    throw new Error(`parseCsv: the separator must be one character other than a quote or line break, got ${JSON.stringify(sep)}`);
  const rows: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let rowLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a UTF-8 byte order mark
  let quoted = false; // inside quotes
  let wasQuoted = false; // the current field was quoted
  const endRow = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === "" && !wasQuoted)) rows.push({ fields, line: rowLine });
    fields = [];
    field = "";
    wasQuoted = false;
  };
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === "\n") line++;
        field += c;
      }
      continue;
    }
    if (c === '"') {
      if (field !== "") throw new CsvError(source, line, `a quote inside an unquoted field (${JSON.stringify(field + c)}); quote the whole field and double the quotes in it`);
      quoted = true;
      wasQuoted = true;
    } else if (c === sep) {
      fields.push(field);
      field = "";
      wasQuoted = false;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      if (wasQuoted) throw new CsvError(source, line, `text after a closing quote (${JSON.stringify(c)}); a quoted field must end at the separator`);
      field += c;
    }
  }
  if (quoted) throw new CsvError(source, rowLine, "a quoted field is not closed before the end of the file");
  if (field !== "" || fields.length > 0 || wasQuoted) endRow();
  return rows;
}

/** Options of {@link readCsv}. */
export interface ReadCsvOptions {
  /** Field separator (default `,`). */
  sep?: string;
  /** Fields that mean "missing" (default {@link DEFAULT_NA_VALUES}: `NA`, empty, `NaN`, ...). */
  naValues?: readonly string[];
}

function toNumber(s: string): number {
  const t = s.trim();
  if (t === "") return NaN;
  const n = Number(t);
  if (!Number.isNaN(n)) return n;
  if (t === "inf" || t === "Infinity" || t === "+inf") return Infinity;
  if (t === "-inf" || t === "-Infinity") return -Infinity;
  return NaN;
}

/**
 * Read a CSV file with a header line into a {@link DataFrame}: the book's
 * `pd.read_csv(path)`. Column kinds are inferred as pandas does: a column
 * whose present values all parse as numbers is numeric (missing → `NaN`),
 * any other column holds strings (missing → `null`).
 *
 * @example
 * const trainData = d2l.readCsv(await d2l.download("kaggle_house_train"));
 * trainData.shape; // [1460, 81]
 */
export function readCsv(file: string, options: ReadCsvOptions = {}): DataFrame {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") throw new CsvError(file, 0, "no such file; check the path (d2l.download(name) returns the local path of a DATA_HUB file)");
    throw new CsvError(file, 0, `cannot read it (${err.message})`);
  }
  return DataFrame.fromCsv(text, { ...options, source: file });
}

function isNumberColumn(c: FrameColumn): c is Float64Array {
  return c instanceof Float64Array;
}

function fmtValue(v: number | string | null): string {
  if (v === null) return "NaN";
  if (typeof v === "string") return v;
  if (Number.isNaN(v)) return "NaN";
  if (Number.isInteger(v)) return String(v);
  return Number(v.toPrecision(6)).toString();
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function csvField(v: number | string | null, sep: string): string {
  if (v === null) return "";
  if (typeof v === "number") return Number.isNaN(v) ? "" : String(v);
  return v.includes(sep) || v.includes('"') || v.includes("\n") || v.includes("\r") ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Options of {@link DataFrame.getDummies} and {@link getDummies}. */
export interface GetDummiesOptions {
  /** Add a `<column>_nan` indicator for missing values to every encoded column (pandas' `dummy_na`; default false). */
  dummyNa?: boolean;
  /** The string columns to encode (default: all of them). */
  columns?: readonly string[];
  /** Between the column name and the category (default `_`). */
  prefixSep?: string;
}

/**
 * A table of named columns, each numeric or string, with the pandas
 * operations the book uses. Operations return new frames (columns that are
 * not changed are shared, not copied). In a notebook a frame shows itself as
 * a table (the first and last rows and columns when it is large).
 *
 * @example
 * const df = new d2l.DataFrame({ NumRooms: [NaN, 2, 4], RoofType: [null, null, "Slate"] });
 * df.shape;                                  // [3, 2]
 * df.getDummies({ dummyNa: true }).columns;  // ["NumRooms", "RoofType_Slate", "RoofType_nan"]
 */
export class DataFrame {
  /** Column names, in order. */
  readonly columns: readonly string[];
  private readonly data: ReadonlyMap<string, FrameColumn>;
  /** Number of rows. */
  readonly numRows: number;

  /**
   * @param columns column name → values: numbers (`NaN` missing) or strings (`null` missing).
   */
  constructor(columns: Record<string, ArrayLike<number> | readonly (string | null)[]> | Map<string, FrameColumn>) {
    const entries: [string, FrameColumn][] =
      columns instanceof Map
        ? [...columns.entries()]
        : Object.entries(columns).map(([name, values]): [string, FrameColumn] => {
            const arr = Array.from(values as ArrayLike<number | string | null>);
            if (arr.every((v) => typeof v === "number")) return [name, Float64Array.from(arr as number[])];
            if (arr.every((v) => typeof v === "string" || v === null)) return [name, arr as (string | null)[]];
            throw new Error(`DataFrame: column "${name}" mixes numbers and strings; give numbers (NaN for missing) or strings (null for missing)`);
          });
    const lengths = new Set(entries.map(([, v]) => v.length));
    if (lengths.size > 1) {
      throw new Error(`DataFrame: columns have different lengths (${entries.map(([n, v]) => `${n}: ${v.length}`).join(", ")}); every column needs one value per row`);
    }
    this.columns = entries.map(([n]) => n);
    if (new Set(this.columns).size !== this.columns.length) throw new Error(`DataFrame: duplicate column names in ${this.columns.join(", ")}`);
    this.data = new Map(entries);
    this.numRows = entries.length ? entries[0][1].length : 0;
  }

  /**
   * Parse CSV text with a header line (see {@link readCsv}).
   *
   * @example
   * d2l.DataFrame.fromCsv("a,b\n1,x\nNA,y\n").dtypes; // { a: "float64", b: "object" }
   */
  static fromCsv(text: string, options: ReadCsvOptions & { source?: string } = {}): DataFrame {
    const source = options.source ?? "CSV text";
    const rows = parseCsv(text, options.sep ?? ",", source);
    if (rows.length === 0) throw new CsvError(source, 0, "it is empty; expected a header line with the column names");
    const header = rows[0].fields.map((h) => h.trim());
    const na = new Set(options.naValues ?? DEFAULT_NA_VALUES);
    const raw: string[][] = header.map(() => []);
    for (const { fields, line } of rows.slice(1)) {
      if (fields.length !== header.length) {
        throw new CsvError(
          source,
          line,
          `${fields.length} fields, but the header has ${header.length} columns; the file is damaged or not ${options.sep === undefined || options.sep === "," ? "comma" : JSON.stringify(options.sep)}-separated`,
        );
      }
      fields.forEach((f, j) => raw[j].push(f));
    }
    const cols = new Map<string, FrameColumn>();
    header.forEach((name, j) => {
      if (cols.has(name)) throw new CsvError(source, rows[0].line, `the column name "${name}" appears twice in the header`);
      const values = raw[j];
      const nums = new Float64Array(values.length);
      let numeric = true;
      for (let i = 0; i < values.length; i++) {
        if (na.has(values[i].trim())) {
          nums[i] = NaN;
          continue;
        }
        const n = toNumber(values[i]);
        if (Number.isNaN(n)) {
          numeric = false;
          break;
        }
        nums[i] = n;
      }
      cols.set(name, numeric ? nums : values.map((v) => (na.has(v.trim()) ? null : v)));
    });
    return new DataFrame(cols);
  }

  /**
   * `[rows, columns]`, pandas' `shape`.
   *
   * @example
   * trainData.shape; // [1460, 81]
   */
  get shape(): [number, number] {
    return [this.numRows, this.columns.length];
  }

  /**
   * Each column's kind, pandas' `dtypes`: `"float64"` (numbers) or `"object"` (strings).
   *
   * @example
   * Object.entries(df.dtypes).filter(([, t]) => t !== "object").map(([c]) => c); // the numeric columns
   */
  get dtypes(): Record<string, FrameDtype> {
    return Object.fromEntries(this.columns.map((c) => [c, isNumberColumn(this.col(c)) ? "float64" : "object"]));
  }

  /**
   * The names of the numeric columns (the book's `dtypes[dtypes != 'object'].index`).
   *
   * @example
   * const numericFeatures = allFeatures.numericColumns();
   */
  numericColumns(): string[] {
    return this.columns.filter((c) => isNumberColumn(this.col(c)));
  }

  private col(name: string): FrameColumn {
    const c = this.data.get(name);
    if (c === undefined) throw new Error(`DataFrame: no column "${name}"; the columns are ${this.describeColumns()}`);
    return c;
  }

  private describeColumns(): string {
    const c = this.columns;
    return c.length <= 12 ? c.join(", ") : `${c.slice(0, 6).join(", ")}, ... (${c.length} in all), ${c.slice(-3).join(", ")}`;
  }

  /**
   * A column's values (a copy): numbers with `NaN` for missing, or strings with `null`.
   *
   * @example
   * const prices = trainData.get("SalePrice") as Float64Array;
   */
  get(name: string): FrameColumn {
    const c = this.col(name);
    return isNumberColumn(c) ? Float64Array.from(c) : [...c];
  }

  /**
   * A numeric column's values; an error if it holds strings.
   *
   * @example
   * Math.max(...trainData.numbers("SalePrice")); // 755000
   */
  numbers(name: string): Float64Array {
    const c = this.col(name);
    if (!isNumberColumn(c)) throw new Error(`DataFrame: column "${name}" holds strings, not numbers; encode it first (getDummies)`);
    return Float64Array.from(c);
  }

  /**
   * Rows and columns by position, pandas' `iloc[rows, cols]`. Each selector is
   * a slice in pandas' notation as a string (`":"`, `"0:4"`, `"1:-1"`, `"1:"`;
   * negative positions count from the end) or a list of positions.
   *
   * @example
   * trainData.iloc("0:4", [0, 1, 2, 3, -3, -2, -1]); // the book's train_data.iloc[0:4, [0, 1, 2, 3, -3, -2, -1]]
   * @example
   * trainData.iloc(":", "1:-1"); // train_data.iloc[:, 1:-1]
   */
  iloc(rows: string | readonly number[], cols: string | readonly number[] = ":"): DataFrame {
    const rowIdx = DataFrame.positions(rows, this.numRows, "rows");
    const colIdx = DataFrame.positions(cols, this.columns.length, "columns");
    const out = new Map<string, FrameColumn>();
    for (const j of colIdx) {
      const name = this.columns[j];
      if (out.has(name)) throw new Error(`DataFrame.iloc: column position ${j} ("${name}") is selected twice`);
      const c = this.col(name);
      out.set(name, isNumberColumn(c) ? Float64Array.from(rowIdx, (i) => c[i]) : rowIdx.map((i) => c[i]));
    }
    return new DataFrame(out);
  }

  /** Positions from a slice string ("start:end", parts optional) or a list of positions. */
  private static positions(sel: string | readonly number[], n: number, what: string): number[] {
    if (typeof sel === "string") {
      const m = /^\s*(-?\d+)?\s*:\s*(-?\d+)?\s*$/.exec(sel);
      if (!m) throw new Error(`DataFrame.iloc: ${JSON.stringify(sel)} is not a slice; write "start:end" like "0:4", "1:-1" or ":" (or give a list of positions)`);
      const clamp = (k: number): number => Math.max(0, Math.min(n, k < 0 ? n + k : k));
      const start = m[1] === undefined ? 0 : clamp(Number(m[1]));
      const end = m[2] === undefined ? n : clamp(Number(m[2]));
      return Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i);
    }
    return sel.map((k) => {
      const p = k < 0 ? n + k : k;
      if (!Number.isInteger(p) || p < 0 || p >= n) throw new Error(`DataFrame.iloc: ${what} position ${k} is out of range; there are ${n} ${what}`);
      return p;
    });
  }

  /**
   * The first `n` rows (pandas' `head`).
   *
   * @example
   * submission.head(); // 5 rows
   */
  head(n = 5): DataFrame {
    return this.iloc(`0:${Math.max(0, n)}`);
  }

  /**
   * Only the named columns, in that order (pandas' `df[[...]]`).
   *
   * @example
   * const submission = testData.select(["Id", "SalePrice"]);
   */
  select(names: readonly string[]): DataFrame {
    return new DataFrame(new Map(names.map((n) => [n, this.col(n)])));
  }

  /**
   * Without the named columns (pandas' `drop(columns=...)`).
   *
   * @example
   * trainData.drop(["Id", "SalePrice"]).shape; // [1460, 79]
   */
  drop(names: readonly string[]): DataFrame {
    for (const n of names) this.col(n);
    return new DataFrame(new Map(this.columns.filter((c) => !names.includes(c)).map((c) => [c, this.col(c)])));
  }

  /**
   * A copy with column `name` set to `values` (added at the end if new):
   * pandas' `df[name] = values`.
   *
   * @example
   * const withPreds = testData.assign("SalePrice", preds);
   */
  assign(name: string, values: ArrayLike<number> | readonly (string | null)[]): DataFrame {
    if (values.length !== this.numRows) throw new Error(`DataFrame.assign: "${name}" has ${values.length} values but the frame has ${this.numRows} rows`);
    const col: FrameColumn = Array.from(values as ArrayLike<number | string | null>).every((v) => typeof v === "number")
      ? Float64Array.from(values as ArrayLike<number>)
      : Array.from(values as ArrayLike<string | null>);
    const out = new Map(this.columns.map((c): [string, FrameColumn] => [c, this.col(c)]));
    out.set(name, col);
    return new DataFrame(out);
  }

  /**
   * Apply `f` to each named numeric column (default: all numeric columns):
   * pandas' `df[cols].apply(f)`. `f` gets the column's values and returns the new ones.
   *
   * @example
   * df.apply((x) => x.map((v) => v * 2), ["LotArea"]);
   */
  apply(f: (values: Float64Array, name: string) => ArrayLike<number>, columns: readonly string[] = this.numericColumns()): DataFrame {
    const out = new Map(this.columns.map((c): [string, FrameColumn] => [c, this.col(c)]));
    for (const name of columns) {
      const c = this.col(name);
      if (!isNumberColumn(c)) throw new Error(`DataFrame.apply: column "${name}" holds strings; apply works on numeric columns`);
      const r = f(Float64Array.from(c), name);
      if (r.length !== c.length) throw new Error(`DataFrame.apply: the function returned ${r.length} values for column "${name}" of ${c.length}`);
      out.set(name, Float64Array.from(r));
    }
    return new DataFrame(out);
  }

  /**
   * Rescale numeric columns to zero mean and unit variance, skipping missing
   * values (the book's `apply(lambda x: (x - x.mean()) / (x.std()))`; pandas'
   * `std` is the sample standard deviation, divided by n - 1). A constant
   * column becomes all zeros.
   *
   * @example
   * allFeatures = allFeatures.standardize(numericFeatures).fillna(0, numericFeatures);
   */
  standardize(columns: readonly string[] = this.numericColumns()): DataFrame {
    return this.apply((x) => {
      let n = 0;
      let sum = 0;
      for (const v of x) if (!Number.isNaN(v)) (n++, (sum += v));
      const mean = n > 0 ? sum / n : NaN;
      let ss = 0;
      for (const v of x) if (!Number.isNaN(v)) ss += (v - mean) ** 2;
      const std = n > 1 ? Math.sqrt(ss / (n - 1)) : NaN;
      return x.map((v) => (Number.isNaN(v) ? NaN : std > 0 ? (v - mean) / std : 0));
    }, columns);
  }

  /**
   * Fill missing values: numeric columns with `value` (pandas' `fillna`),
   * string columns with `String(value)`. Default columns: all.
   *
   * @example
   * df.fillna(0, df.numericColumns());
   */
  fillna(value: number, columns: readonly string[] = this.columns): DataFrame {
    const out = new Map(this.columns.map((c): [string, FrameColumn] => [c, this.col(c)]));
    for (const name of columns) {
      const c = this.col(name);
      out.set(name, isNumberColumn(c) ? c.map((v) => (Number.isNaN(v) ? value : v)) : c.map((v) => v ?? String(value)));
    }
    return new DataFrame(out);
  }

  /**
   * One-hot encode string columns: pandas' `get_dummies(df, dummy_na=...)`.
   * Numeric columns stay first, in order; then for each encoded column, one
   * 0/1 column per category, `<column>_<category>` in sorted order, and with
   * `dummyNa` a `<column>_nan` column marking missing values.
   *
   * @example
   * allFeatures = allFeatures.getDummies({ dummyNa: true });
   * allFeatures.shape; // [2919, 331]
   */
  getDummies(options: GetDummiesOptions = {}): DataFrame {
    const sep = options.prefixSep ?? "_";
    const encode = options.columns ?? this.columns.filter((c) => !isNumberColumn(this.col(c)));
    const out = new Map<string, FrameColumn>();
    for (const c of this.columns) if (!encode.includes(c)) out.set(c, this.col(c));
    for (const name of encode) {
      const c = this.col(name);
      const values: (string | null)[] = isNumberColumn(c) ? Array.from(c, (v) => (Number.isNaN(v) ? null : fmtValue(v))) : c;
      const cats = [...new Set(values.filter((v): v is string => v !== null))].sort();
      for (const cat of cats) {
        const key = `${name}${sep}${cat}`;
        if (out.has(key)) throw new Error(`DataFrame.getDummies: the dummy column "${key}" clashes with an existing column`);
        out.set(
          key,
          Float64Array.from(values, (v) => (v === cat ? 1 : 0)),
        );
      }
      if (options.dummyNa)
        out.set(
          `${name}${sep}nan`,
          Float64Array.from(values, (v) => (v === null ? 1 : 0)),
        );
    }
    return new DataFrame(out);
  }

  /**
   * The values as a `[rows, columns]` float32 tensor (the book's
   * `torch.tensor(df.values, dtype=torch.float32)`). Every column must be
   * numeric (encode strings first); missing values stay `NaN` unless filled.
   *
   * @example
   * const trainFeatures = allFeatures.iloc(`0:${nTrain}`).toTensor();
   */
  toTensor(): tf.Tensor2D {
    const strings = this.columns.filter((c) => !isNumberColumn(this.col(c)));
    if (strings.length > 0) {
      throw new Error(
        `DataFrame.toTensor: ${strings.length} column(s) hold strings (${strings.slice(0, 5).join(", ")}${strings.length > 5 ? ", ..." : ""}); one-hot encode them first with getDummies()`,
      );
    }
    const [n, m] = this.shape;
    const flat = new Float32Array(n * m);
    this.columns.forEach((name, j) => {
      const c = this.col(name) as Float64Array;
      for (let i = 0; i < n; i++) flat[i * m + j] = c[i];
    });
    return tf.tensor2d(flat, [n, m], "float32");
  }

  /** Row `i` as values. */
  private row(i: number): (number | string | null)[] {
    return this.columns.map((c) => this.col(c)[i]);
  }

  /**
   * The table as CSV text with a header line and no index column (pandas'
   * `to_csv(index=False)`); missing values are empty fields.
   *
   * @example
   * fs.writeFileSync("submission.csv", submission.toCsv());
   */
  toCsv(sep = ","): string {
    const lines = [this.columns.map((c) => csvField(c, sep)).join(sep)];
    for (let i = 0; i < this.numRows; i++)
      lines.push(
        this.row(i)
          .map((v) => csvField(v, sep))
          .join(sep),
      );
    return lines.join("\n") + "\n";
  }

  /** Which rows and columns the display shows: all when small, else the first and last ones. */
  private shown(): { rows: (number | null)[]; cols: (number | null)[] } {
    const pick = (n: number, max: number): (number | null)[] => {
      if (n <= max) return Array.from({ length: n }, (_, i) => i);
      const h = Math.floor(max / 2);
      return [...Array.from({ length: h }, (_, i) => i), null, ...Array.from({ length: h }, (_, i) => n - h + i)];
    };
    return { rows: pick(this.numRows, 10), cols: pick(this.columns.length, 20) };
  }

  /**
   * The table as aligned text, as pandas prints it (large tables show their
   * first and last rows and columns, with `...`).
   *
   * @example
   * console.log(trainData.iloc("0:4", [0, 1, 2, 3, -3, -2, -1]).toString());
   */
  toString(): string {
    const { rows, cols } = this.shown();
    const header = ["", ...cols.map((j) => (j === null ? "..." : this.columns[j]))];
    const body = rows.map((i) => (i === null ? ["...", ...cols.map(() => "...")] : [String(i), ...cols.map((j) => (j === null ? "..." : fmtValue(this.col(this.columns[j])[i])))]));
    const table = [header, ...body];
    const widths = header.map((_, k) => Math.max(...table.map((r) => r[k].length)));
    const text = table.map((r) =>
      r
        .map((v, k) => (k === 0 ? v.padEnd(widths[k]) : v.padStart(widths[k])))
        .join("  ")
        .trimEnd(),
    );
    if (rows.includes(null) || cols.includes(null)) text.push("", `[${this.numRows} rows x ${this.columns.length} columns]`);
    return text.join("\n");
  }

  /**
   * How a notebook shows the frame: an HTML table (and the text of {@link toString}).
   *
   * @example
   * trainData.head()[d2l.JUPYTER_DISPLAY]()["text/html"];
   */
  [JUPYTER_DISPLAY](): Record<string, string> {
    const { rows, cols } = this.shown();
    const th = (s: string): string => `<th>${escapeHtml(s)}</th>`;
    const td = (s: string): string => `<td>${escapeHtml(s)}</td>`;
    const head = `<tr>${th("")}${cols.map((j) => th(j === null ? "..." : this.columns[j])).join("")}</tr>`;
    const body = rows
      .map((i) =>
        i === null
          ? `<tr>${th("...")}${cols.map(() => td("...")).join("")}</tr>`
          : `<tr>${th(String(i))}${cols.map((j) => td(j === null ? "..." : fmtValue(this.col(this.columns[j])[i]))).join("")}</tr>`,
      )
      .join("");
    const foot = rows.includes(null) || cols.includes(null) ? `<p>${this.numRows} rows × ${this.columns.length} columns</p>` : "";
    return { "text/plain": this.toString(), "text/html": `<table class="dataframe"><thead>${head}</thead><tbody>${body}</tbody></table>${foot}` };
  }
}

/**
 * Stack frames with the same columns on top of each other: the book's
 * `pd.concat((a, b))`. Column kinds must agree, except that a numeric column
 * that is all missing in one frame joins a string column.
 *
 * @example
 * const allFeatures = d2l.concat([trainData.iloc(":", "1:-1"), testData.iloc(":", "1:")]);
 */
export function concat(frames: readonly DataFrame[]): DataFrame {
  if (frames.length === 0) throw new Error("concat: expected at least one DataFrame");
  const names = frames[0].columns;
  frames.forEach((f, k) => {
    const same = f.columns.length === names.length && f.columns.every((c, j) => c === names[j]);
    if (!same) {
      const missing = names.filter((c) => !f.columns.includes(c));
      const extra = f.columns.filter((c) => !names.includes(c));
      throw new Error(
        `concat: frame ${k} has different columns than frame 0 (missing: ${missing.join(", ") || "none"}; extra: ${extra.join(", ") || "none"}); select the same columns, in the same order, first`,
      );
    }
  });
  const out = new Map<string, FrameColumn>();
  for (const name of names) {
    const parts = frames.map((f) => f.get(name));
    if (parts.every(isNumberColumn)) {
      const total = parts.reduce((a, p) => a + p.length, 0);
      const col = new Float64Array(total);
      let at = 0;
      for (const p of parts) (col.set(p, at), (at += p.length));
      out.set(name, col);
    } else {
      const bad = parts.find((p) => isNumberColumn(p) && p.some((v) => !Number.isNaN(v)));
      if (bad) throw new Error(`concat: column "${name}" holds numbers in one frame and strings in another`);
      out.set(
        name,
        parts.flatMap((p) => (isNumberColumn(p) ? Array.from(p, () => null) : p)),
      );
    }
  }
  return new DataFrame(out);
}

/**
 * One-hot encode a frame's string columns: the book's
 * `pd.get_dummies(all_features, dummy_na=True)`; see {@link DataFrame.getDummies}.
 *
 * @example
 * d2l.getDummies(allFeatures, { dummyNa: true }).shape; // [2919, 331]
 */
export function getDummies(frame: DataFrame, options: GetDummiesOptions = {}): DataFrame {
  return frame.getDummies(options);
}
