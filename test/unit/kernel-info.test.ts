import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { kernelInfo } from "../../kernel/info";

describe("kernel_info_reply language_info", () => {
  const li = kernelInfo().language_info as Record<string, unknown>;

  test('codemirror_mode is the string "typescript" (JupyterLab 4 resolves it by name; Notebook 6 through findModeByName)', () => {
    assert.equal(li.codemirror_mode, "typescript");
  });

  test("codemirror_mode has a shape strict clients accept: a string or {name: string, version: integer}", () => {
    // jupyter-protocol (runtimed, used by kernel-testbed): untagged enum Simple(String) | CustomMode{name, version: usize}.
    const m = li.codemirror_mode;
    const ok =
      typeof m === "string" ||
      (typeof m === "object" && m !== null && typeof (m as { name?: unknown }).name === "string" && Number.isInteger((m as { version?: unknown }).version));
    assert.ok(ok, `codemirror_mode ${JSON.stringify(m)} is neither a string nor {name, version}`);
  });

  test("name, file extension, mime type and lexer name TypeScript", () => {
    assert.equal(li.name, "typescript");
    assert.equal(li.file_extension, ".ts");
    assert.equal(li.mimetype, "text/typescript");
    assert.equal(li.pygments_lexer, "typescript");
    assert.equal(typeof li.version, "string");
  });
});
