// d2l.houseCatPath: the offline photo of the chapter 13 notebooks resolves from the library, not from the
// caller's folder, and reads as the 1024x510 RGB JPEG that the notebooks' box coordinates were chosen for.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as d2l from "../../lib/index";

test("houseCatPath names the house cat JPEG of the npm package, readable from any working directory", async () => {
  const cwd = process.cwd();
  process.chdir(fs.mkdtempSync(path.join(os.tmpdir(), "d2l-house-cat-")));
  try {
    const p = d2l.houseCatPath();
    assert.ok(path.isAbsolute(p), p);
    assert.match(p, /datasets-img-locomotion-house-cat[\\/]data[\\/]image\.jpg$/);
    const img = await d2l.readImage(p);
    assert.deepEqual(img.shape, [510, 1024, 3]);
    img.dispose();
  } finally {
    process.chdir(cwd);
  }
});
