/**
 * What the two browser tests share (classic Notebook and JupyterLab): a free
 * port, waiting for the Jupyter server, Chromium with the network off, and
 * stopping the server with the kernels it started.
 */
import * as http from "http";
import * as net from "net";
import type { ChildProcess } from "child_process";
import { chromium, type Browser } from "playwright-core";
import { findChromium } from "../../notebook/export";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** The HTTP status of a GET, 0 when nothing answers within 2 s. */
export function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.setTimeout(2000, () => req.destroy());
  });
}

/** Wait until the server answers /api/status (60 s); an early exit or no answer is an error with its log. */
export async function waitForServer(server: ChildProcess | undefined, base: string, token: string, name: string, log: () => string): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (server?.exitCode !== null) throw new Error(`the ${name} server exited (${server?.exitCode}):\n${log()}`);
    if ((await httpStatus(`${base}/api/status?token=${token}`)) === 200) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the ${name} server did not answer within 60 s:\n${log()}`);
}

/** Debian's Chromium with the network-off flags: no background requests, updates, sync or QUIC (playwright adds a fresh --user-data-dir). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: findChromium(),
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"],
  });
}

/** SIGTERM to the server's process group (it was spawned detached, so its kernels go too), SIGKILL after 15 s. */
export async function stopServer(server: ChildProcess | undefined): Promise<void> {
  if (server?.pid === undefined || server.exitCode !== null) return;
  const exited = new Promise((r) => server.once("exit", r));
  try {
    process.kill(-server.pid, "SIGTERM");
  } catch {
    // already gone
  }
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  if (server.exitCode === null) {
    try {
      process.kill(-server.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}
