import { test } from "node:test";
import assert from "node:assert/strict";
import { tokenize, countCorpus, Vocab } from "../../lib/text/index";

test("tokenize splits into words or characters", () => {
  assert.deepEqual(tokenize(["the  time machine", "", "by h g"]), [["the", "time", "machine"], [], ["by", "h", "g"]]);
  assert.deepEqual(tokenize(["ab c"], "char"), [["a", "b", " ", "c"]]);
  assert.throws(() => tokenize(["x"], "byte" as "word"), /unknown token type "byte"; use "word" or "char"/);
});

test("countCorpus flattens lines and counts", () => {
  const c = countCorpus([
    ["a", "b", "a"],
    ["c", "a"],
  ]);
  assert.deepEqual(
    [...c.entries()],
    [
      ["a", 3],
      ["b", 1],
      ["c", 1],
    ],
  );
  assert.equal(countCorpus(["x", "x"]).get("x"), 2);
});

test("Vocab: <unk> first, reserved next, then by frequency with first-appearance ties, minFreq cuts", () => {
  const lines = tokenize(["b a c a", "d b a e"]);
  const v = new Vocab(lines, { reservedTokens: ["<pad>", "<bos>"] });
  // a:3, b:2, then c, d, e (1 each) in first-appearance order
  assert.deepEqual(v.idxToToken, ["<unk>", "<pad>", "<bos>", "a", "b", "c", "d", "e"]);
  assert.equal(v.length, 8);
  assert.equal(v.toIndices("a"), 3);
  assert.equal(v.toIndices("zebra"), 0);
  assert.deepEqual(v.toIndices(["b", "zebra"]), [4, 0]);
  assert.deepEqual(v.toIndices([["a"], ["e", "c"]]), [[3], [7, 5]]);
  assert.deepEqual(v.toTokens([3, 4, 0]), ["a", "b", "<unk>"]);
  assert.equal(v.toTokens(1), "<pad>");
  assert.throws(() => v.toTokens(8), /index 8 is outside the vocabulary \(0\.\.7\)/);
  const cut = new Vocab(lines, { minFreq: 2 });
  assert.deepEqual(cut.idxToToken, ["<unk>", "a", "b"]);
  assert.deepEqual(cut.tokenFreqs[0], ["a", 3]);
  assert.throws(() => new Vocab([], { reservedTokens: ["<unk>"] }), /given twice/);
});
