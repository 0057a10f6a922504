/**
 * The one argument parser of the `d2l-ts` commands: Node's `util.parseArgs`,
 * strict, so `--opt value` and `--opt=value` both work, an unknown option or a
 * missing value is a {@link UsageError}, and every command reports such
 * mistakes the same way (its usage, exit code 2; see cli/main.ts).
 */
import { parseArgs, type ParseArgsConfig } from "util";

/** A mistake on the command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  /**
   * @param message what was wrong, in the user's terms
   * @param usage the command's usage text, printed after the message (default: the whole tool's)
   */
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** The options of one command, as `util.parseArgs` takes them. */
export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** What {@link parseCommand} returns: the options given, by name, and the positional arguments. */
export interface Parsed {
  /** Each option given: a string (or strings, for `multiple`) or true for a flag; absent when not given. */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  /** The arguments that are not options, in order. */
  positionals: string[];
}

/**
 * Parse one command's arguments with `util.parseArgs` (strict): `--opt value`
 * and `--opt=value`, flags, `--` before a positional that starts with `-`.
 * Mistakes become a {@link UsageError} that names the option and carries the
 * command's usage.
 *
 * @param command the command's name, for messages ("grade", "export")
 * @param args the arguments after the command's name
 * @param options the options it takes (`{ timeout: { type: "string" }, quiet: { type: "boolean" } }`)
 * @param usage the command's usage text
 * @param positionals how many positional arguments it takes: `[min, max]`, and what they are for messages
 *
 * @example
 * const { values, positionals } = parseCommand("run", ["nb.ipynb", "--timeout=60"],
 *   { timeout: { type: "string" }, out: { type: "string" } }, "d2l-ts run NOTEBOOK [--timeout S]", [1, 1, "a NOTEBOOK"]);
 * values.timeout; // "60"
 * positionals;    // ["nb.ipynb"]
 */
export function parseCommand(command: string, args: string[], options: OptionSpec, usage: string, positionals: [number, number, string]): Parsed {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true }) as Parsed;
  } catch (e) {
    throw new UsageError(`${command}: ${parseArgsMessage(e as Error & { code?: string }, options)}`, usage);
  }
  const [min, max, what] = positionals;
  if (parsed.positionals.length < min) throw new UsageError(`${command} needs ${what}`, usage);
  if (parsed.positionals.length > max) throw new UsageError(`${command}: unexpected argument(s): ${parsed.positionals.slice(max).join(" ")}`, usage);
  return parsed;
}

/** util.parseArgs' messages are long and mention "parseArgs"; say what the user typed wrong. */
function parseArgsMessage(e: Error & { code?: string }, options: OptionSpec): string {
  const quoted = /'(-{1,2}[^' ]+)/.exec(e.message)?.[1];
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const known = Object.keys(options).map((o) => `--${o}`);
      return `unknown option ${quoted ?? ""}${known.length ? ` (it takes ${known.join(", ")})` : " (it takes no options)"}`;
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const name = quoted?.replace(/^-+/, "").split("=")[0];
      const spec = name !== undefined ? options[name] : undefined;
      return spec?.type === "boolean"
        ? `${quoted} is a flag and takes no value`
        : `${quoted ?? "an option"} needs a value (${quoted ?? "--opt"} VALUE or ${quoted ?? "--opt"}=VALUE)`;
    }
    default:
      return e.message;
  }
}

/** The string value of option `name` (undefined when absent; the last one when given twice). */
export function stringOption(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  if (Array.isArray(v)) return v.length ? String(v[v.length - 1]) : undefined;
  return typeof v === "string" ? v : undefined;
}

/** True when the flag `name` was given. */
export function flagOption(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/**
 * A numeric option, checked: absent gives `fallback`; otherwise a finite number
 * at least `min` (and whole when `integer`), or a {@link UsageError} saying what
 * the option is for.
 *
 * @example
 * numberOption(p, "timeout", { fallback: 1800, min: 0, above: true, what: "seconds each cell may run" }, usage); // 1800 when not given
 */
export function numberOption(p: Parsed, name: string, o: NumberRule & { fallback: number }, usage: string): number;
export function numberOption(p: Parsed, name: string, o: NumberRule, usage: string): number | undefined;
export function numberOption(p: Parsed, name: string, o: NumberRule & { fallback?: number }, usage: string): number | undefined {
  const text = stringOption(p, name);
  if (text === undefined) return o.fallback;
  const v = Number(text);
  const low = o.above ? v <= o.min : v < o.min;
  if (text.trim() === "" || !Number.isFinite(v) || low || (o.integer && !Number.isInteger(v)) || (o.max !== undefined && v > o.max)) {
    const range = `${o.above ? ">" : "≥"} ${o.min}${o.max !== undefined ? ` and ≤ ${o.max}` : ""}`;
    throw new UsageError(`--${name} must be ${o.integer ? "a whole number" : "a number"} ${range} (${o.what}); got ${JSON.stringify(text)}`, usage);
  }
  return v;
}

/** What {@link numberOption} accepts. */
export interface NumberRule {
  /** The smallest value (allowed, unless `above`). */
  min: number;
  /** The value must be greater than `min`, not equal to it. */
  above?: boolean;
  /** The largest value allowed. */
  max?: number;
  /** Whole numbers only. */
  integer?: boolean;
  /** What the option is for, in the error message. */
  what: string;
}
