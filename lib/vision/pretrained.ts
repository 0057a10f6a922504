/**
 * Pretrained models for fine-tuning (ch. 13.2): the book's
 * `torchvision.models.resnet18(pretrained=True)` downloads ImageNet weights;
 * in TensorFlow.js a pretrained model is a `model.json` (topology and weights
 * manifest) beside binary weight files, published at a URL or saved in a
 * folder. {@link loadPretrained} reads either, with errors that say what went
 * wrong and what to do (tfjs' own say "fetch failed" or "Failed to parse").
 */
import * as tf from "@tensorflow/tfjs";
import { fileIO } from "../io";

/** Options of {@link loadPretrained}. */
export interface LoadPretrainedOptions {
  /** Passed to `fetch` for a URL (headers, credentials), as `tf.io.http`'s `requestInit`. */
  requestInit?: RequestInit;
  /** Called with the fraction loaded, 0 to 1 (tfjs' `onProgress`). */
  onProgress?: (fraction: number) => void;
}

/** A response with an error status, from {@link loadPretrained}'s fetch. */
class HttpStatusError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly statusText: string,
  ) {
    super(`${url}: status ${status}`);
  }
}

const OFFLINE_HINT = "offline, save a model to a folder with await net.save(d2l.fileIO(folder)) and pass the folder";

/**
 * Load a pretrained `tf.LayersModel` (the book's
 * `torchvision.models.resnet18(pretrained=True)`, ch. 13.2) from a URL of a
 * `model.json` (`http://` or `https://`; its weight files are fetched from
 * beside it), from a folder holding `model.json` and `weights.bin` (what
 * `net.save(d2l.fileIO(folder))` writes), from the path of a `.json` file, or
 * from a `file://` URL of either. A failing download, a missing or damaged
 * `model.json` and missing weights are errors that name the source and say
 * what to do. To fine-tune, replace the model's output layer (see the
 * chapter 13.2 notebook) and train with `d2l.optim.ParamGroups`.
 *
 * @example
 * const base = await d2l.loadPretrained("https://example.org/models/mobilenet/model.json");
 * const local = await d2l.loadPretrained("models/fashion-resnet"); // a folder saved with d2l.fileIO
 */
export async function loadPretrained(source: string, options: LoadPretrainedOptions = {}): Promise<tf.LayersModel> {
  if (typeof source !== "string" || source.trim() === "") {
    throw new Error(`loadPretrained(source): expected the URL of a model.json (https://.../model.json) or a folder holding one, got ${JSON.stringify(source)}`);
  }
  if (options === null || typeof options !== "object") throw new Error("loadPretrained(source, options): options must be an object { requestInit?, onProgress? }");
  const src = source.trim();
  if (/^https?:\/\//i.test(src)) {
    if (!/\.json([?#].*)?$/i.test(src)) {
      throw new Error(`loadPretrained: ${src} does not name a .json file; give the URL of the model's model.json (its weight files are fetched from beside it)`);
    }
    // tfjs reads a weight file's error page as weights ("byte length ... should be a multiple of 4"): check every response.
    const fetchFunc = async (input: string | Request | URL, init?: RequestInit): Promise<Response> => {
      const res = await fetch(input, init);
      if (!res.ok) throw new HttpStatusError(String(input instanceof Request ? input.url : input), res.status, res.statusText);
      return res;
    };
    try {
      return await tf.loadLayersModel(tf.io.http(src, { requestInit: options.requestInit, onProgress: options.onProgress, fetchFunc }));
    } catch (e) {
      if (e instanceof HttpStatusError) {
        const what = e.url === src ? "" : ` (a weights file ${src} refers to)`;
        throw new Error(
          `loadPretrained: downloading ${e.url}${what} failed with status code ${e.status} ${e.statusText}; check the URL (it must point to the model.json of a tfjs LayersModel, its weight files beside it), or ${OFFLINE_HINT}`,
        );
      }
      const msg = (e as Error).message ?? String(e);
      if (/byte length|multiple of|weight/i.test(msg)) {
        throw new Error(
          `loadPretrained: the weights downloaded for ${src} do not match its model.json (${msg}); the files are damaged or do not belong together: download the model again`,
        );
      }
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message;
      if (/status code|failed with status/i.test(msg)) {
        throw new Error(
          `loadPretrained: downloading ${src} failed (${msg.replace(/\s*Please verify.*$/s, "")}); check the URL (it must point to the model.json of a tfjs LayersModel), or ${OFFLINE_HINT}`,
        );
      }
      if (/parse|JSON/i.test(msg)) {
        throw new Error(`loadPretrained: ${src} is not a tfjs model.json, or it is damaged (${msg}); check the URL, or download the model again`);
      }
      if (/fetch failed|ECONNREFUSED|ENOTFOUND|network/i.test(msg) || why !== undefined) {
        throw new Error(`loadPretrained: could not download ${src} (${why ?? msg}): no network, or the server is down; try again later, or ${OFFLINE_HINT}`);
      }
      throw new Error(`loadPretrained: loading ${src} failed: ${msg}`);
    }
  }
  let target = src;
  if (/^file:\/\//i.test(src)) target = decodeURIComponent(src.slice("file://".length));
  try {
    return await tf.loadLayersModel(fileIO(target), { onProgress: options.onProgress });
  } catch (e) {
    const err = e as Error;
    if (err.name === "TensorFileError") throw err; // fileIO's messages name the file and the fix
    throw new Error(
      `loadPretrained: ${target} holds a model.json that tfjs cannot build a LayersModel from (${err.message}); was it saved from a LayersModel (net.save), not a graph model?`,
    );
  }
}
