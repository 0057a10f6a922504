// Quick mode (D2L_QUICK=1) is the library's business: the training functions cut their epochs
// themselves and say so, so that a notebook keeps the book's numbers on the page.
import { test, describe, before, afterEach, mock } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { isQuick, quickEpochs, QUICK_EPOCHS } from "../../lib/quick";
import { trainCh3, Engine } from "../../lib/train/index";
import { loadArray } from "../../lib/data/index";

const saved = process.env.D2L_QUICK;

before(async () => {
  await tf.setBackend("cpu");
});

afterEach(() => {
  if (saved === undefined) delete process.env.D2L_QUICK;
  else process.env.D2L_QUICK = saved;
  mock.restoreAll();
});

/** What goes to stderr (where the library's one-line notes go outside the kernel) while `f` runs. */
async function stderrOf(f: () => Promise<unknown> | unknown): Promise<string> {
  let text = "";
  mock.method(process.stderr, "write", (chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  try {
    await f();
  } finally {
    mock.restoreAll();
  }
  return text;
}

/** 60 examples of 2 features, 3 classes (x0 decides), in batches of 20. */
function tinyData(): ReturnType<typeof loadArray> {
  const X = tf.tensor2d(Array.from({ length: 60 }, (_, i) => [(i % 3) - 1, 0.5]));
  const y = tf.tensor1d(
    Array.from({ length: 60 }, (_, i) => i % 3),
    "int32",
  );
  return loadArray([X, y], 20, false);
}

describe("quick mode", () => {
  test("isQuick follows D2L_QUICK (1 and true; anything else is off)", () => {
    for (const [v, want] of [
      ["1", true],
      ["true", true],
      [" TRUE ", true],
      ["0", false],
      ["", false],
      ["yes", false],
    ] as const) {
      process.env.D2L_QUICK = v;
      assert.equal(isQuick(), want, JSON.stringify(v));
    }
    delete process.env.D2L_QUICK;
    assert.equal(isQuick(), false);
  });

  test("quickEpochs cuts only in quick mode, only above the cap, and says so once", async () => {
    delete process.env.D2L_QUICK;
    assert.equal(await stderrOf(() => assert.equal(quickEpochs(10, 2, "trainCh3"), 10)), "");
    process.env.D2L_QUICK = "1";
    let got = 0;
    const said = await stderrOf(() => (got = quickEpochs(10, 2, "trainCh3")));
    assert.equal(got, 2);
    assert.equal(said, "D2L_QUICK=1: trainCh3 trains 2 of the 10 epochs asked for.\n");
    assert.equal(await stderrOf(() => assert.equal(quickEpochs(2, 2), 2)), "", "at the cap: nothing to cut, nothing said");
    assert.equal(quickEpochs(1, 3), 1);
    assert.throws(() => quickEpochs(10, 0), /max must be a positive integer, got 0/);
  });

  test("the caps are the documented ones", () => {
    assert.deepEqual({ ...QUICK_EPOCHS }, { trainCh3: 2, trainCh6: 1, trainCh8: 3, trainSeq2seq: 12, trainCh11: 10, trainConciseCh11: 4 });
    assert.ok(Object.isFrozen(QUICK_EPOCHS));
  });

  test("trainCh3 asked for the book's 10 epochs trains QUICK_EPOCHS.trainCh3 of them in quick mode, 10 otherwise", async () => {
    for (const quick of [true, false]) {
      if (quick) process.env.D2L_QUICK = "1";
      else delete process.env.D2L_QUICK;
      const data = tinyData();
      const net = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2] })] });
      let epochs = 0;
      const said = await stderrOf(() =>
        trainCh3(net, data, data, (yHat, y) => tf.losses.softmaxCrossEntropy(tf.oneHot(y.toInt(), 3), yHat, undefined, undefined, tf.Reduction.NONE), 10, tf.train.sgd(0.1), {
          animator: false,
          progress: false,
          verbose: false,
          callbacks: [{ onEpochEnd: () => void epochs++ }],
        }),
      );
      assert.equal(epochs, quick ? QUICK_EPOCHS.trainCh3 : 10);
      assert.equal(said.includes("D2L_QUICK=1: trainCh3 trains 2 of the 10 epochs asked for."), quick);
      net.dispose();
      data.dispose();
    }
  });

  test("Engine.fit cuts only when given quickEpochs (d2l.fit users choose their epochs)", async () => {
    process.env.D2L_QUICK = "1";
    const data = tinyData();
    const net = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2] })] });
    const loss = (yHat: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.losses.softmaxCrossEntropy(tf.oneHot(y.toInt(), 3), yHat, undefined, undefined, tf.Reduction.NONE);
    const engine = new Engine({ net, loss, updater: tf.train.sgd(0.1) });
    const all = await stderrOf(async () => assert.equal((await engine.fit(data, { numEpochs: 4 })).history.length, 4));
    assert.equal(all, "");
    const cut = await stderrOf(async () => assert.equal((await engine.fit(data, { numEpochs: 4, quickEpochs: 3 })).history.length, 3));
    assert.match(cut, /D2L_QUICK=1: Engine.fit trains 3 of the 4 epochs asked for\./);
    net.dispose();
    data.dispose();
  });
});
