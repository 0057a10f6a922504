import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
// the fs module object itself (not an import-star copy), so a test can make its calls fail
import realFs = require("fs");
import { WriteError, parseTemporaryName, processAlive, removeStaleTemporaries, temporaryName, writeFailureReason, writeFileAtomic } from "../../lib/files";

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-files-"));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const listing = (dir: string): string[] => fs.readdirSync(dir).sort();

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  const pid = Number(child.stdout);
  assert.ok(pid > 0);
  return pid;
}

describe("writeFileAtomic", () => {
  test("writes a string as UTF-8 and bytes as they are, creating the folder; no temporary file left", () => {
    const file = path.join(tmp, "new", "sub", "report.json");
    writeFileAtomic(file, '{"grade": "très bien"}\n');
    assert.equal(fs.readFileSync(file, "utf8"), '{"grade": "très bien"}\n');
    const bin = path.join(tmp, "new", "sub", "img.png");
    const bytes = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 255]);
    writeFileAtomic(bin, bytes);
    assert.deepEqual(new Uint8Array(fs.readFileSync(bin)), bytes);
    assert.deepEqual(listing(path.dirname(file)), ["img.png", "report.json"]);
  });

  test("replaces an existing file and keeps its permission bits; mode sets them for a new one", () => {
    const file = path.join(tmp, "replace.txt");
    fs.writeFileSync(file, "old contents that are longer");
    fs.chmodSync(file, 0o640);
    writeFileAtomic(file, "new");
    assert.equal(fs.readFileSync(file, "utf8"), "new");
    assert.equal(fs.statSync(file).mode & 0o777, 0o640);
    const exe = path.join(tmp, "run.sh");
    writeFileAtomic(exe, "#!/bin/sh\n", { mode: 0o755 });
    assert.equal(fs.statSync(exe).mode & 0o777, 0o755);
  });

  test("a write that fails (simulated ENOSPC) keeps the old file whole, leaves no temporary, and says the disk is full", () => {
    const dir = path.join(tmp, "full");
    const file = path.join(dir, "graded.ipynb");
    writeFileAtomic(file, "the old notebook");
    const saved = realFs.writeSync;
    let calls = 0;
    (realFs as { writeSync: unknown }).writeSync = (fd: number, buf: Uint8Array, off?: number, len?: number): number => {
      if (calls++ > 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", syscall: "write" });
      return saved(fd, buf, off, Math.min(len ?? buf.length, 4)); // a short first write: the loop must go on
    };
    try {
      assert.throws(
        () => writeFileAtomic(file, "a new notebook, longer than four bytes"),
        (e: Error) => {
          assert.ok(e instanceof WriteError, `a WriteError, got ${e.name}`);
          assert.equal(e.code, "ENOSPC");
          assert.equal(e.path, file);
          assert.equal(e.message, `the disk holding ${dir} is full (ENOSPC) while writing ${file}; free some space there or write to another disk`);
          return true;
        },
      );
    } finally {
      realFs.writeSync = saved;
    }
    assert.ok(calls >= 2, "the second write failed");
    assert.equal(fs.readFileSync(file, "utf8"), "the old notebook");
    assert.deepEqual(listing(dir), ["graded.ipynb"]);
  });

  test("a folder that is a file (root ignores chmod) and a read-only folder (simulated EACCES) are WriteErrors saying what to do", () => {
    const blocker = path.join(tmp, "blocker");
    fs.writeFileSync(blocker, "");
    assert.throws(
      () => writeFileAtomic(path.join(blocker, "x.json"), "{}"),
      (e: Error) => {
        assert.ok(e instanceof WriteError);
        assert.match(e.message, /a part of its folder .*blocker is a file, not a folder \((ENOTDIR|EEXIST)\); remove that file or write to another folder$/);
        return true;
      },
    );
    const saved = realFs.openSync;
    (realFs as { openSync: unknown }).openSync = (p: fs.PathLike, ...rest: unknown[]): number => {
      if (String(p).includes(".tmp-")) throw Object.assign(new Error("EACCES: permission denied, open"), { code: "EACCES", syscall: "open" });
      return (saved as (...a: unknown[]) => number)(p, ...rest);
    };
    const file = path.join(tmp, "ro", "out.html");
    fs.mkdirSync(path.dirname(file));
    try {
      assert.throws(
        () => writeFileAtomic(file, "<html>"),
        (e: Error) => {
          assert.ok(e instanceof WriteError);
          assert.equal(e.code, "EACCES");
          assert.equal(
            e.message,
            `the folder ${path.dirname(file)} is not writable by this user (EACCES) so ${file} cannot be written; make it writable or write to another folder`,
          );
          return true;
        },
      );
    } finally {
      realFs.openSync = saved;
    }
    assert.deepEqual(listing(path.dirname(file)), []);
  });

  test("bad arguments are TypeErrors that say what was expected", () => {
    assert.throws(() => writeFileAtomic("", "x"), /writeFileAtomic: expected a file path, got ""/);
    assert.throws(() => writeFileAtomic(path.join(tmp, "n"), null as unknown as string), /expected the contents of .*n as a string or a Uint8Array, got null/);
    assert.throws(() => writeFileAtomic(path.join(tmp, "n"), 42 as unknown as string), /got number/);
  });
});

describe("temporary names and stale temporaries", () => {
  test("temporaryName carries the pid; parseTemporaryName reads it back, and old names too", () => {
    const part = temporaryName("/cache/train.gz", "part");
    assert.match(part, new RegExp(`^/cache/\\.train\\.gz\\.part-${process.pid}-[0-9a-f]{8}$`));
    assert.deepEqual(parseTemporaryName(path.basename(part)), { kind: "part", pid: process.pid });
    const tmpName = temporaryName("out/report.json", "tmp");
    assert.deepEqual(parseTemporaryName(path.basename(tmpName)), { kind: "tmp", pid: process.pid });
    const unpack = temporaryName("/cache/aclImdb/aclImdb", "unpack");
    assert.match(unpack, new RegExp(`^/cache/aclImdb/\\.unpack-${process.pid}-[0-9a-f]{8}$`));
    assert.deepEqual(parseTemporaryName(path.basename(unpack)), { kind: "unpack", pid: process.pid });
    assert.notEqual(temporaryName("/a/b", "tmp"), temporaryName("/a/b", "tmp"), "two writers in one process do not collide");
    assert.deepEqual(parseTemporaryName(".train.gz.31337.0badc0de.part"), { kind: "part", pid: 31337 });
    assert.deepEqual(parseTemporaryName(".w.safetensors.31337.1700000000000.tmp"), { kind: "tmp", pid: 31337 });
    assert.deepEqual(parseTemporaryName(".unpack-Ab12Cd"), { kind: "unpack" });
    for (const other of ["train.gz", ".train.gz", "notes.part-1-2", ".unpack-", ".x.part-12", ".x.part-a-b", "report.tmp"]) {
      assert.equal(parseTemporaryName(other), undefined, other);
    }
  });

  test("processAlive", () => {
    assert.equal(processAlive(process.pid), true);
    assert.equal(processAlive(1), true);
    assert.equal(processAlive(deadPid()), false);
    assert.equal(processAlive(0), false);
    assert.equal(processAlive(-5), false);
    assert.equal(processAlive(Number.NaN), false);
  });

  test("removeStaleTemporaries removes a killed writer's files and folders only, after the grace time", () => {
    const dir = path.join(tmp, "stale");
    fs.mkdirSync(dir);
    const dead = deadPid();
    const now = Date.now();
    const at = (name: string, ageMs: number, folder = false): string => {
      const p = path.join(dir, name);
      if (folder) fs.mkdirSync(path.join(p, "deep", "er"), { recursive: true });
      else fs.writeFileSync(p, "x");
      const t = new Date(now - ageMs);
      fs.utimesSync(p, t, t);
      return name;
    };
    const min = 60_000;
    const removed = [
      at(`.a.json.tmp-${dead}-12ab34cd`, 5 * min),
      at(`.b.gz.part-${dead}-12ab34cd`, 5 * min),
      at(`.unpack-${dead}-12ab34cd`, 5 * min, true),
      at(".unpack-Qw12Er", 25 * 60 * min),
    ];
    const kept = [
      at(`.c.json.tmp-${dead}-12ab34cd`, 30_000), // dead, but changed 30 s ago: maybe a writer this process cannot see
      at(`.d.gz.part-${process.pid}-12ab34cd`, 60 * min), // this process
      at(`.e.gz.part-1-12ab34cd`, 60 * min), // a live process
      at(".unpack-Zx98Cv", 23 * 60 * min), // no pid, less than a day old
      at("results.json", 60 * min),
      at(`c.json.tmp-${dead}-12ab34cd`, 60 * min), // not hidden: not ours
    ];
    const got = removeStaleTemporaries(dir, { now });
    assert.deepEqual(got.map((p) => path.basename(p)).sort(), [...removed].sort());
    assert.deepEqual(listing(dir), [...kept].sort());
    // the grace time and the age limit are options
    assert.deepEqual(
      removeStaleTemporaries(dir, { now, graceMs: 0, maxAgeMs: 60 * min })
        .map((p) => path.basename(p))
        .sort(),
      [`.c.json.tmp-${dead}-12ab34cd`, ".unpack-Zx98Cv"].sort(),
    );
    assert.deepEqual(removeStaleTemporaries(path.join(tmp, "no-such-folder")), [], "a missing folder is no error");
  });

  test("the temporary of a process killed in the middle of writeFileAtomic is removed by the next cleanup", () => {
    const dir = path.join(tmp, "killed");
    fs.mkdirSync(dir);
    const lib = path.resolve(__dirname, "../../lib/files.js");
    // the child opens its temporary, writes half, and is killed (SIGKILL: no cleanup code runs)
    const script = `
      const fs = require("fs");
      const files = require(${JSON.stringify(lib)});
      fs.fsyncSync = () => process.kill(process.pid, "SIGKILL");
      files.writeFileAtomic(${JSON.stringify(path.join(dir, "grade.json"))}, "x".repeat(100000));
    `;
    const child = spawnSync(process.execPath, ["-e", script]);
    assert.equal(child.signal, "SIGKILL");
    const left = listing(dir);
    assert.equal(left.length, 1, `one temporary left by the killed writer: ${left}`);
    assert.equal(parseTemporaryName(left[0])?.kind, "tmp");
    assert.equal(fs.statSync(path.join(dir, left[0])).size, 100000);
    assert.deepEqual(removeStaleTemporaries(dir, { now: Date.now() + 10 * 60_000 }), [path.join(dir, left[0])]);
    assert.deepEqual(listing(dir), []);
  });
});

describe("writeFailureReason", () => {
  test("names disk errors with the path and what to do; other errors are not its business", () => {
    const err = (code: string): Error => Object.assign(new Error(code), { code });
    assert.equal(
      writeFailureReason(err("EROFS"), "/media/cd/x.txt"),
      "the folder /media/cd is on a read-only file system (EROFS) so /media/cd/x.txt cannot be written; write to another folder",
    );
    assert.match(writeFailureReason(err("EDQUOT"), "/home/me/x") ?? "", /quota for \/home\/me is used up \(EDQUOT\)/);
    assert.match(writeFailureReason(err("EPERM"), "/x/y") ?? "", /not writable by this user \(EPERM\)/);
    assert.equal(writeFailureReason(err("ECONNRESET"), "/x/y"), undefined);
    assert.equal(writeFailureReason(new Error("plain"), "/x/y"), undefined);
    assert.equal(writeFailureReason(undefined, "/x/y"), undefined);
  });
});
