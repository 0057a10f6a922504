/** Command-line helpers shared by the `d2l-ts` commands. */

/** A mistake on the command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

/** Remove `name VALUE` from `args` and return VALUE (undefined when absent). */
export function takeOption(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new UsageError(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}

/** Remove the flag `name` from `args`; true when it was there. */
export function takeFlag(args: string[], name: string): boolean {
  const i = args.indexOf(name);
  if (i < 0) return false;
  args.splice(i, 1);
  return true;
}

/**
 * {@link takeOption} and {@link takeFlag} on `args` for a command that reports
 * its own mistakes: a missing value is a plain error (exit 1) whose message
 * ends with `usageLine` (the command's usage), as `grade` and `assignment` do.
 *
 * @example
 * const { take, flag } = argsWithUsage(args, `usage: ${GRADE_USAGE}`);
 * const reference = take("--reference");
 * const quiet = flag("--quiet");
 */
export function argsWithUsage(args: string[], usageLine: string): { take(name: string): string | undefined; flag(name: string): boolean } {
  return {
    take(name: string): string | undefined {
      try {
        return takeOption(args, name);
      } catch (e) {
        if (e instanceof UsageError) throw new Error(`${e.message}\n${usageLine}`);
        throw e;
      }
    },
    flag: (name: string): boolean => takeFlag(args, name),
  };
}
