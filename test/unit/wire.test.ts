import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "crypto";
import { Header, MAX_JSON_DEPTH, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, Signer, WireError, decode, encode, jsonDepth, makeHeader } from "../../kernel/wire";

const KEY = "5ca1ab1e-0000-4000-8000-c0ffee000000";
const DELIM = Buffer.from("<IDS|MSG>");

function header(msgType = "execute_request"): Header {
  return {
    msg_id: "id-1",
    session: "sess-1",
    username: "user",
    date: "2024-01-01T00:00:00.000Z",
    msg_type: msgType,
    version: "5.3",
  };
}

function jsonParts(...objs: unknown[]): Buffer[] {
  return objs.map((o) => Buffer.from(JSON.stringify(o), "utf8"));
}

/** Frames with raw (possibly invalid) parts, signed correctly so that only the parsing can fail. */
function signedFrames(signer: Signer, parts: Buffer[], idents: Buffer[] = []): Buffer[] {
  return [...idents, DELIM, Buffer.from(signer.sign(parts)), ...parts];
}

function expectWireError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof WireError, `expected WireError, got ${String(e)}`);
    assert.ok(e instanceof Error);
    assert.match(e.message, message);
    return true;
  });
}

describe("Signer", () => {
  const parts = jsonParts(header(), {}, { a: 1 }, { code: "1 + 1" });

  test("signs the four parts with HMAC-SHA256 in order, as lowercase hex", () => {
    const s = new Signer(KEY, "hmac-sha256");
    const expected = createHmac("sha256", KEY).update(Buffer.concat(parts)).digest("hex");
    assert.equal(s.sign(parts), expected);
    assert.match(s.sign(parts), /^[0-9a-f]{64}$/);
    // Order matters: swapping two parts changes the signature.
    assert.notEqual(s.sign([parts[1], parts[0], parts[2], parts[3]]), expected);
  });

  test("an empty scheme defaults to hmac-sha256; hmac-sha512 is honoured", () => {
    const expected256 = createHmac("sha256", KEY).update(Buffer.concat(parts)).digest("hex");
    assert.equal(new Signer(KEY, "").sign(parts), expected256);
    const expected512 = createHmac("sha512", KEY).update(Buffer.concat(parts)).digest("hex");
    assert.equal(new Signer(KEY, "hmac-sha512").sign(parts), expected512);
  });

  test("a different key gives a different signature", () => {
    assert.notEqual(new Signer(KEY, "hmac-sha256").sign(parts), new Signer(KEY + "x", "hmac-sha256").sign(parts));
  });

  test("an empty key means no signing: sign gives '' and verify accepts anything", () => {
    const s = new Signer("", "hmac-sha256");
    assert.equal(s.sign(parts), "");
    assert.equal(s.verify(Buffer.from(""), parts), true);
    assert.equal(s.verify(Buffer.from("deadbeef"), parts), true);
  });

  test("an empty key accepts even an unsupported scheme (nothing is signed)", () => {
    assert.doesNotThrow(() => new Signer("", "rsa-whatever"));
  });

  test("an unsupported scheme is refused with a WireError naming it", () => {
    expectWireError(() => new Signer(KEY, "rsa-sha256"), /unsupported signature_scheme "rsa-sha256"/);
    expectWireError(() => new Signer(KEY, "HMAC-SHA256 "), /unsupported signature_scheme/);
  });

  test("verify accepts the right signature and refuses wrong, truncated and empty ones", () => {
    const s = new Signer(KEY, "hmac-sha256");
    const sig = s.sign(parts);
    assert.equal(s.verify(Buffer.from(sig), parts), true);
    const flipped = (sig[0] === "0" ? "1" : "0") + sig.slice(1);
    assert.equal(s.verify(Buffer.from(flipped), parts), false);
    assert.equal(s.verify(Buffer.from(sig.slice(0, 63)), parts), false);
    assert.equal(s.verify(Buffer.from(sig + "0"), parts), false);
    assert.equal(s.verify(Buffer.alloc(0), parts), false);
    const tampered = jsonParts(header(), {}, { a: 1 }, { code: "1 + 2" });
    assert.equal(s.verify(Buffer.from(sig), tampered), false);
  });
});

describe("encode / decode", () => {
  const signer = new Signer(KEY, "hmac-sha256");

  test("encode lays out idents, delimiter, signature, four JSON parts, buffers", () => {
    const idents = [Buffer.from("client-a"), Buffer.from([0, 1, 2, 255])];
    const h = header();
    const content = { code: "print('é😀')", silent: false };
    const buf = Buffer.from([9, 8, 7]);
    const frames = encode(signer, idents, h, {}, { m: true }, content, [buf]);
    assert.equal(frames.length, 2 + 1 + 1 + 4 + 1);
    assert.deepEqual(frames[0], idents[0]);
    assert.deepEqual(frames[1], idents[1]);
    assert.equal(frames[2].toString(), "<IDS|MSG>");
    const jsons = frames.slice(4, 8);
    assert.deepEqual(
      jsons.map((b) => JSON.parse(b.toString("utf8"))),
      [h, {}, { m: true }, content],
    );
    assert.equal(frames[3].toString(), createHmac("sha256", KEY).update(Buffer.concat(jsons)).digest("hex"));
    assert.deepEqual(frames[8], buf);
  });

  test("decode(encode(...)) round-trips idents, header, parent, metadata, content and buffers", () => {
    const idents = [Buffer.from("router-id"), Buffer.from([0xde, 0xad, 0xbe, 0xef])];
    const h = header("kernel_info_request");
    const parent = header("execute_request");
    parent.msg_id = "parent-id";
    const metadata = { deletedCells: [], nested: { x: [1, 2, 3] } };
    const content = { code: "const s = 'ünïcödé 😀';", user_expressions: { a: "1" }, stop_on_error: true };
    const buffers = [Buffer.from("raw-1"), Buffer.from([0, 0, 1])];
    const msg = decode(encode(signer, idents, h, parent, metadata, content, buffers), signer);
    assert.equal(msg.idents.length, 2);
    assert.deepEqual(msg.idents[0], idents[0]);
    assert.deepEqual(msg.idents[1], idents[1]);
    assert.deepEqual(msg.header, h);
    assert.deepEqual(msg.parent_header, parent);
    assert.deepEqual(msg.metadata, metadata);
    assert.deepEqual(msg.content, content);
    assert.equal(msg.buffers.length, 2);
    assert.deepEqual(msg.buffers[0], buffers[0]);
    assert.deepEqual(msg.buffers[1], buffers[1]);
  });

  test("a message without idents and with an empty parent decodes", () => {
    const msg = decode(encode(signer, [], header(), {}, {}, {}), signer);
    assert.deepEqual(msg.idents, []);
    assert.deepEqual(msg.parent_header, {});
    assert.deepEqual(msg.buffers, []);
  });

  test("without a key, messages are sent with an empty signature and accepted", () => {
    const none = new Signer("", "hmac-sha256");
    const frames = encode(none, [Buffer.from("id")], header(), {}, {}, { x: 1 });
    assert.equal(frames[2].length, 0);
    assert.deepEqual(decode(frames, none).content, { x: 1 });
  });

  test("a message signed with another key is refused as 'bad signature'", () => {
    const other = new Signer("another-key", "hmac-sha256");
    const frames = encode(other, [], header(), {}, {}, { x: 1 });
    expectWireError(() => decode(frames, signer), /bad signature/);
  });

  test("tampering with the content after signing is detected", () => {
    const frames = encode(signer, [Buffer.from("id")], header(), {}, {}, { code: "1" });
    frames[frames.length - 1] = Buffer.from(JSON.stringify({ code: "2" }));
    expectWireError(() => decode(frames, signer), /bad signature/);
  });

  test("an unsigned message is refused when a key is configured", () => {
    const frames = encode(new Signer("", ""), [], header(), {}, {}, {});
    expectWireError(() => decode(frames, signer), /bad signature/);
  });

  test("frames without the <IDS|MSG> delimiter are refused", () => {
    const frames = encode(signer, [Buffer.from("id")], header(), {}, {}, {});
    const noDelim = frames.filter((f) => f.toString() !== "<IDS|MSG>");
    expectWireError(() => decode(noDelim, signer), /<IDS\|MSG> delimiter/);
    // A near miss of the delimiter does not count.
    const near = frames.map((f) => (f.toString() === "<IDS|MSG>" ? Buffer.from("<IDS|MSG> ") : f));
    expectWireError(() => decode(near, signer), /delimiter/);
  });

  test("too few frames after the delimiter are refused, saying how many came", () => {
    const frames = encode(signer, [Buffer.from("id")], header(), {}, {}, {});
    // id, delimiter, signature, header, parent, metadata  (content missing)
    expectWireError(() => decode(frames.slice(0, 6), signer), /truncated message: 4 frames after the delimiter, expected at least 5/);
    expectWireError(() => decode([DELIM], signer), /truncated message: 0 frames/);
  });

  /** Decode frames that must come back with a problem (answered with an error reply), not a WireError. */
  function expectProblem(parts: Buffer[], ename: string, evalue: RegExp): void {
    const msg = decode(signedFrames(signer, parts), signer);
    assert.ok(msg.problem, "expected a problem to answer");
    assert.equal(msg.problem.ename, ename);
    assert.match(msg.problem.evalue, evalue);
    assert.deepEqual(msg.content, {});
    assert.deepEqual(msg.metadata, {});
    assert.equal(msg.header.msg_id, "id-1", "the header is kept, so the error reply has its parent");
  }

  test("a header that is not JSON is refused; a bad other part is a problem to answer, naming the part", () => {
    const bad = [Buffer.from("{not json"), ...jsonParts({}, {}, {})];
    expectWireError(() => decode(signedFrames(signer, bad), signer), /header is not valid JSON/);
    expectProblem([...jsonParts(header(), {}, {}), Buffer.from("")], "InvalidMessage", /content is not valid JSON/);
    expectProblem([...jsonParts(header()), Buffer.from("{'single': 'quotes'}"), ...jsonParts({}, {})], "InvalidMessage", /parent_header is not valid JSON/);
  });

  test("a header that is JSON but not an object is refused; other parts are problems", () => {
    for (const h of [[header()], "header", 42, null]) {
      expectWireError(() => decode(signedFrames(signer, jsonParts(h, {}, {}, {})), signer), /header is not a JSON object/);
    }
    expectProblem(jsonParts(header(), {}, [], {}), "InvalidMessage", /metadata is not a JSON object/);
    expectProblem(jsonParts(header(), {}, {}, null), "InvalidMessage", /content is not a JSON object/);
  });

  test("a part nested deeper than MAX_JSON_DEPTH is a problem naming the depth, before anything is copied", () => {
    const deep = (n: number): string => "[".repeat(n) + "]".repeat(n);
    const content = Buffer.from(`{"code": "1", "x": ${deep(100_000)}}`);
    expectProblem([...jsonParts(header(), {}, {}), content], "MessageTooDeep", /content is nested 100001 deep; the kernel takes at most 100 levels/);
    expectProblem([...jsonParts(header(), {}), Buffer.from(`{"x": ${deep(500)}}`), ...jsonParts({})], "MessageTooDeep", /metadata is nested 501 deep/);
    // At the limit is fine.
    const ok = decode(signedFrames(signer, [...jsonParts(header(), {}, {}), Buffer.from(`{"x": ${deep(MAX_JSON_DEPTH - 1)}}`)]), signer);
    assert.equal(ok.problem, undefined);
    // A deep header is answered with its plain fields only (safe to echo as a parent).
    const h = Buffer.from(JSON.stringify(header()).slice(0, -1) + `, "x": ${deep(100_000)}}`);
    const msg = decode(signedFrames(signer, [h, ...jsonParts({}, {}, { code: "1" })]), signer);
    assert.equal(msg.problem?.ename, "MessageTooDeep");
    assert.deepEqual(msg.header, header());
  });

  test("a message over MAX_MESSAGE_BYTES is a problem that says the limit in MiB", () => {
    const big = jsonParts(header(), {}, {}, { code: "x".repeat(MAX_MESSAGE_BYTES) });
    expectProblem(big, "MessageTooLarge", /the message is 64\.0 MiB; the kernel takes at most 64\.0 MiB/);
  });

  test("jsonDepth counts brackets outside strings only", () => {
    assert.equal(jsonDepth(Buffer.from("{}")), 1);
    assert.equal(jsonDepth(Buffer.from('{"a": [[1], "[[[\\\\"]}')), 3);
    assert.equal(jsonDepth(Buffer.from('{"a": "\\"[[[[", "b": [1]}')), 2);
    assert.equal(jsonDepth(Buffer.from("1")), 0);
  });

  test("a header without a string msg_type or msg_id is refused", () => {
    const { msg_type: _t, ...noType } = header();
    expectWireError(() => decode(signedFrames(signer, jsonParts(noType, {}, {}, {})), signer), /msg_type/);
    expectWireError(() => decode(signedFrames(signer, jsonParts({ ...header(), msg_type: 5 }, {}, {}, {})), signer), /msg_type/);
    const { msg_id: _i, ...noId } = header();
    expectWireError(() => decode(signedFrames(signer, jsonParts(noId, {}, {}, {})), signer), /msg_id/);
  });

  test("the signature is checked before the parts are parsed", () => {
    // Garbage parts with a wrong signature: the error is about the signature.
    const frames = [DELIM, Buffer.from("0".repeat(64)), Buffer.from("x"), Buffer.from("y"), Buffer.from("z"), Buffer.from("w")];
    expectWireError(() => decode(frames, signer), /bad signature/);
  });
});

describe("makeHeader", () => {
  test("fills every field of a 5.3 header", () => {
    const before = Date.now();
    const h = makeHeader("status", "session-xyz");
    const after = Date.now();
    assert.deepEqual(Object.keys(h).sort(), ["date", "msg_id", "msg_type", "session", "username", "version"]);
    assert.match(h.msg_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(h.session, "session-xyz");
    assert.equal(h.username, "kernel");
    assert.equal(h.msg_type, "status");
    assert.equal(h.version, "5.3");
    assert.equal(PROTOCOL_VERSION, "5.3");
    assert.match(h.date, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const t = Date.parse(h.date);
    assert.ok(t >= before && t <= after, `date ${h.date} not between the calls`);
  });

  test("every header gets a fresh msg_id", () => {
    const ids = new Set(Array.from({ length: 50 }, () => makeHeader("x", "s").msg_id));
    assert.equal(ids.size, 50);
  });

  test("a made header survives encode/decode", () => {
    const signer = new Signer(KEY, "hmac-sha256");
    const h = makeHeader("execute_reply", "s");
    assert.deepEqual(decode(encode(signer, [], h, {}, {}, { status: "ok" }), signer).header, h);
  });
});
