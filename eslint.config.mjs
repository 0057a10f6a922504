// The lint run in CI (`npm run lint`, a stage of test/run-all.sh). A deliberately small rule set,
// not the recommended ones: each rule here catches a bug class this code base has had or must not get.
//   - no-floating-promises: a promise nobody awaits loses its rejection (an unhandled rejection kills
//     the kernel) and its ordering. Drop one on purpose with `void`, and only where its rejection is
//     handled elsewhere.
//   - no-unused-vars: dead code, or a value someone meant to use. `_`-prefixed names are allowed.
//   - no-explicit-any, in lib/ only: lib/ is the API notebooks see (its types are what the editor
//     shows a learner); the kernel and the tools may use `any` where they meet untyped JSON.
// Type-aware (no-floating-promises needs types): the TypeScript project service reads tsconfig.json.
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  {
    ignores: ["dist/**", "node_modules/**", "lab/**", "lib/native/build/**", "test-artifacts/**", "notebooks/**"],
  },
  {
    files: ["cli/**/*.ts", "kernel/**/*.ts", "notebook/**/*.ts", "lib/**/*.ts", "test/**/*.ts", "bench/**/*.ts"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { "@typescript-eslint": tseslint.plugin },
    // Off: the sources carry `eslint-disable ... no-require-imports` comments for a rule this set does not
    // enable; reporting them as unused would be noise.
    linterOptions: { reportUnusedDisableDirectives: "off" },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          // node:test's test()/describe()/it() return promises the runner itself awaits and reports;
          // awaiting them in a test file would only serialise the file's registration.
          allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "describe", "it", "suite"] }],
        },
      ],
      "@typescript-eslint/no-unused-vars": [
        "error",
        {
          args: "after-used",
          argsIgnorePattern: "^_",
          varsIgnorePattern: "^_",
          caughtErrors: "all",
          caughtErrorsIgnorePattern: "^_",
          destructuredArrayIgnorePattern: "^_",
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    files: ["lib/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
    },
  },
);
