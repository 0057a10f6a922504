/** What kernel_info_reply says about this kernel. */
import * as fs from "fs";
import * as path from "path";
import { PROTOCOL_VERSION } from "./wire";

/** The project root (where package.json is), from dist/kernel or kernel/. */
export const PROJECT_ROOT = findRoot(__dirname);

function findRoot(dir: string): string {
  let d = dir;
  while (!fs.existsSync(path.join(d, "package.json")) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

function readVersion(pkgJson: string): string {
  try {
    return String((JSON.parse(fs.readFileSync(pkgJson, "utf8")) as { version?: string }).version ?? "unknown");
  } catch {
    return "unknown";
  }
}

export function packageVersion(): string {
  return readVersion(path.join(PROJECT_ROOT, "package.json"));
}

export function dependencyVersion(name: string): string {
  try {
    return readVersion(require.resolve(`${name}/package.json`, { paths: [PROJECT_ROOT] }));
  } catch {
    return "not installed";
  }
}

export function kernelInfo(): Record<string, unknown> {
  const version = packageVersion();
  const tfjs = dependencyVersion("@tensorflow/tfjs");
  const typescript = dependencyVersion("@tslab/typescript-for-tslab");
  return {
    status: "ok",
    protocol_version: PROTOCOL_VERSION,
    implementation: "d2l-ts",
    implementation_version: version,
    language_info: {
      name: "typescript",
      version: typescript,
      mimetype: "text/typescript",
      file_extension: ".ts",
      // A name, not an object: JupyterLab 4 finds its TypeScript mode by name (an object's name "javascript" gave
      // plain JavaScript), Notebook 6 maps it through CodeMirror.findModeByName to application/typescript, and
      // strict clients (runtimed's jupyter-protocol, kernel-testbed) accept only a string or {name, version}.
      codemirror_mode: "typescript",
      pygments_lexer: "typescript",
    },
    banner: `d2l-ts ${version}: TypeScript ${typescript}, TensorFlow.js ${tfjs}, Node.js ${process.versions.node}. tf and d2l are loaded in every cell.`,
    help_links: [
      { text: "Dive into Deep Learning", url: "https://d2l.ai" },
      { text: "TensorFlow.js API", url: "https://js.tensorflow.org/api/latest/" },
      { text: "TypeScript handbook", url: "https://www.typescriptlang.org/docs/handbook/intro.html" },
    ],
    debugger: false,
  };
}
