/**
 * d2l.DataFrame and the CSV reader: parsing (quotes, CRLF, errors), column
 * kinds, and the pandas operations of the book's section 4.10, checked on
 * small tables whose answers are worked out by hand, and on the Kaggle data.
 */
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { JUPYTER_DISPLAY } from "../../lib/plot/figure";
import { CsvError, DataFrame, concat, getDummies, parseCsv, preprocessKaggleHouse, readCsv } from "../../lib/data/index";

before(async () => {
  await tf.setBackend("cpu");
});

describe("parseCsv", () => {
  test("quoted fields hold separators, doubled quotes and line breaks; CRLF and a BOM are handled", () => {
    const rows = parseCsv('\ufeffa,b,c\r\n1,"x, y","say ""hi"""\r\n\r\n2,"two\nlines",\n');
    assert.deepEqual(
      rows.map((r) => r.fields),
      [
        ["a", "b", "c"],
        ["1", "x, y", 'say "hi"'],
        ["2", "two\nlines", ""],
      ],
    );
    assert.deepEqual(
      rows.map((r) => r.line),
      [1, 2, 4],
    );
  });

  test("no final newline, and another separator", () => {
    assert.deepEqual(
      parseCsv("a\tb\n1\t2", "\t").map((r) => r.fields),
      [
        ["a", "b"],
        ["1", "2"],
      ],
    );
  });

  test("malformed quoting is an error naming the line", () => {
    assert.throws(
      () => parseCsv('a,b\n1,"open\n'),
      (e: Error) => e instanceof CsvError && /line 2: a quoted field is not closed/.test(e.message),
    );
    assert.throws(() => parseCsv('a,b\n1,x"y\n'), /line 2: a quote inside an unquoted field/);
    assert.throws(() => parseCsv('a,b\n1,"x"y\n'), /line 2: text after a closing quote/);
  });
});

describe("readCsv and DataFrame", () => {
  const CSV = "Id,NumRooms,RoofType,Price\n1,NA,NA,127500\n2,2,NA,106000\n3,4,Slate,178100\n4,NA,Tile,140000\n";

  test("column kinds are inferred: numbers with NaN for NA, strings with null", () => {
    const df = DataFrame.fromCsv(CSV);
    assert.deepEqual(df.shape, [4, 4]);
    assert.deepEqual(df.dtypes, { Id: "float64", NumRooms: "float64", RoofType: "object", Price: "float64" });
    assert.deepEqual(Array.from(df.get("NumRooms") as Float64Array), [NaN, 2, 4, NaN]);
    assert.deepEqual(df.get("RoofType"), [null, null, "Slate", "Tile"]);
    assert.deepEqual(df.numericColumns(), ["Id", "NumRooms", "Price"]);
  });

  test("a row with the wrong number of fields, an empty or a missing file: errors naming the file and line", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-frame-"));
    try {
      const f = path.join(dir, "bad.csv");
      fs.writeFileSync(f, "a,b\n1,2\n3\n");
      assert.throws(() => readCsv(f), new RegExp(`^CsvError: ${f.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}, line 3: 1 fields, but the header has 2 columns`));
      fs.writeFileSync(f, "");
      assert.throws(() => readCsv(f), /bad\.csv: it is empty; expected a header line/);
      assert.throws(() => readCsv(path.join(dir, "none.csv")), /none\.csv: no such file; check the path/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("iloc takes pandas slices and position lists, negative positions from the end", () => {
    const df = DataFrame.fromCsv(CSV);
    assert.deepEqual(df.iloc(":", "1:-1").columns, ["NumRooms", "RoofType"]);
    assert.deepEqual(df.iloc("1:3", [0, -1]).columns, ["Id", "Price"]);
    assert.deepEqual(Array.from(df.iloc("1:3", [0, -1]).get("Id") as Float64Array), [2, 3]);
    assert.deepEqual(df.iloc("-1:").shape, [1, 4]);
    assert.throws(() => df.iloc(":", [7]), /columns position 7 is out of range; there are 4 columns/);
    assert.throws(() => df.iloc("1-2"), /is not a slice/);
  });

  test("standardize uses the sample standard deviation and skips missing values; fillna fills them", () => {
    const df = new DataFrame({ x: [1, NaN, 3, 5], c: [7, 7, 7, 7] }).standardize();
    // mean 3, sample std sqrt(((1-3)^2 + 0 + (5-3)^2) / 2) = 2
    assert.deepEqual(Array.from(df.get("x") as Float64Array), [-1, NaN, 0, 1]);
    assert.deepEqual(Array.from(df.get("c") as Float64Array), [0, 0, 0, 0], "a constant column becomes zeros");
    assert.deepEqual(Array.from(df.fillna(0).get("x") as Float64Array), [-1, 0, 0, 1]);
  });

  test("getDummies: numeric columns first, categories sorted, then _nan (pandas' dummy_na)", () => {
    const df = DataFrame.fromCsv(CSV).iloc(":", "1:-1");
    const d = getDummies(df, { dummyNa: true });
    assert.deepEqual(d.columns, ["NumRooms", "RoofType_Slate", "RoofType_Tile", "RoofType_nan"]);
    assert.deepEqual(Array.from(d.get("RoofType_nan") as Float64Array), [1, 1, 0, 0]);
    assert.deepEqual(Array.from(d.get("RoofType_Tile") as Float64Array), [0, 0, 0, 1]);
    assert.deepEqual(df.getDummies().columns, ["NumRooms", "RoofType_Slate", "RoofType_Tile"]);
  });

  test("concat stacks rows and checks the columns", () => {
    const a = new DataFrame({ x: [1, 2], s: ["a", null] });
    const b = new DataFrame({ x: [3], s: [NaN] }); // an all-missing column reads as numbers
    const c = concat([a, b]);
    assert.deepEqual(c.shape, [3, 2]);
    assert.deepEqual(c.get("s"), ["a", null, null]);
    assert.throws(() => concat([a, new DataFrame({ x: [1] })]), /frame 1 has different columns than frame 0 \(missing: s; extra: none\)/);
  });

  test("toTensor: float32 [rows, columns]; strings left are an error that says to encode them", () => {
    const df = new DataFrame({ a: [1, 2], b: [3, 4] });
    const t = df.toTensor();
    assert.deepEqual(t.shape, [2, 2]);
    assert.deepEqual(Array.from(t.dataSync()), [1, 3, 2, 4]);
    t.dispose();
    assert.throws(() => new DataFrame({ a: [1], s: ["x"] }).toTensor(), /1 column\(s\) hold strings \(s\); one-hot encode them first with getDummies\(\)/);
  });

  test("toCsv writes a header, quotes what needs it, and reads back the same", () => {
    const df = new DataFrame({ Id: [1, 2], Name: ['a, "b"', null], Price: [1.5, NaN] });
    const text = df.toCsv();
    assert.equal(text, 'Id,Name,Price\n1,"a, ""b""",1.5\n2,,\n');
    const back = DataFrame.fromCsv(text);
    assert.deepEqual(back.get("Name"), ['a, "b"', null]);
    assert.deepEqual(Array.from(back.get("Price") as Float64Array), [1.5, NaN]);
  });

  test("a large frame shows its first and last rows and columns", () => {
    const cols: Record<string, number[]> = {};
    for (let j = 0; j < 30; j++) cols[`c${j}`] = Array.from({ length: 50 }, (_, i) => i * j);
    const df = new DataFrame(cols);
    const text = df.toString();
    assert.match(text, /\[50 rows x 30 columns\]$/);
    assert.ok(text.includes("c0") && text.includes("c29") && !text.includes("c15"), text);
    const bundle = df[JUPYTER_DISPLAY]();
    assert.match(bundle["text/html"], /^<table class="dataframe">/);
    assert.match(bundle["text/html"], /50 rows × 30 columns/);
  });
});

describe("the Kaggle house data (../shared/data)", () => {
  const dir = path.resolve(__dirname, "../../../../shared/data");

  test("reads as 1460 x 81 and 1459 x 80; preprocessing gives the book's 331 features, no NaN", () => {
    const trainData = readCsv(path.join(dir, "kaggle_house_pred_train.csv"));
    const testData = readCsv(path.join(dir, "kaggle_house_pred_test.csv"));
    assert.deepEqual(trainData.shape, [1460, 81]);
    assert.deepEqual(testData.shape, [1459, 80]);
    assert.equal(trainData.dtypes.MSZoning, "object");
    assert.equal(trainData.dtypes.LotFrontage, "float64");
    const { allFeatures, trainFeatures, testFeatures, trainLabels } = preprocessKaggleHouse(trainData, testData);
    assert.deepEqual(allFeatures.shape, [2919, 331]);
    assert.deepEqual(trainFeatures.shape, [1460, 331]);
    assert.deepEqual(testFeatures.shape, [1459, 331]);
    assert.deepEqual(trainLabels.shape, [1460, 1]);
    assert.equal(
      tf.tidy(
        () =>
          tf
            .isNaN(tf.concat([trainFeatures, testFeatures]))
            .any()
            .dataSync()[0],
      ),
      0,
    );
    assert.equal(trainLabels.dataSync()[0], 208500);
    // a standardized numeric column has mean 0 over both sets (before NaN became 0 the mean was 0 too)
    const lotArea = allFeatures.get("LotArea") as Float64Array;
    assert.ok(Math.abs(lotArea.reduce((a, b) => a + b, 0) / lotArea.length) < 1e-9);
    tf.dispose([trainFeatures, testFeatures, trainLabels]);
  });
});
