"""Run notebooks with the book's full settings (no D2L_QUICK) through the d2l-ts
kernel and print what each one reached next to the book's numbers.

    npm run bench:book                                   # the default set below
    npm run bench:book -- --backend native chapter_06_convolutional_neural_networks/06_lenet.ipynb
    /usr/bin/python3 bench/book.py --list                # what it knows the book's numbers for

The notebooks print nothing for this: as in CI (test/notebooks/harness.py), a
cell of the harness' own is appended that returns, from the kernel, what the
notebook's check reads (its `probe` in test/notebooks/checks/); no quick values
are injected, so the notebook runs as a reader runs it. The table shows those
numbers, the book's for the same keys, the wall time and the backend. Executed
notebooks are kept in test-artifacts/bench/ to read.
Needs the kernelspec registered (the npm script does it in test-artifacts/jupyter)."""
import argparse
import json
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "notebooks"))
from checks import CHECKS  # noqa: E402
from harness import append_probe, probe_result  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "test-artifacts" / "bench"

# The book's numbers (d2l.ai, PyTorch edition) for the keys each notebook's probe returns.
BOOK = {
    "chapter_04_multilayer_perceptrons/03_mlp_concise.ipynb": {"testAcc": 0.83},
    "chapter_04_multilayer_perceptrons/10_kaggle_house_price.ipynb": {"avgTrainLogRmse": 0.1659, "avgValidLogRmse": 0.1709},
    "chapter_06_convolutional_neural_networks/06_lenet.ipynb": {"trainLoss": 0.455, "trainAcc": 0.831, "testAcc": 0.789},
    "chapter_08_recurrent_neural_networks/06_rnn_concise.ipynb": {"perplexity": 1.3},
    "chapter_09_modern_rnns/01_gru.ipynb": {"perplexityConcise": 1.1},
    "chapter_09_modern_rnns/02_lstm.ipynb": {"perplexityConcise": 1.2},
    "chapter_09_modern_rnns/07_seq2seq.ipynb": {"lastLoss": 0.019},
}
# Issue 6's set; pass paths to run others.
DEFAULT = [
    "chapter_04_multilayer_perceptrons/03_mlp_concise.ipynb",
    "chapter_06_convolutional_neural_networks/06_lenet.ipynb",
    "chapter_04_multilayer_perceptrons/10_kaggle_house_price.ipynb",
]


def run(rel, timeout):
    import nbformat
    from nbclient import NotebookClient

    path = NOTEBOOKS / rel
    if not path.exists():
        raise SystemExit(f"bench/book.py: no notebook {path}; paths are relative to notebooks/ (see --list)")
    if rel not in CHECKS:
        raise SystemExit(f"bench/book.py: {rel} has no check in test/notebooks/checks/, so nothing says what to read from it")
    nb = nbformat.read(path, as_version=4)
    append_probe(nb, CHECKS[rel].probe)
    client = NotebookClient(nb, kernel_name="d2l-ts", timeout=timeout, resources={"metadata": {"path": str(path.parent)}})
    started = time.time()
    error = None
    try:
        client.execute()
    except Exception as e:  # a failing cell: report it in the table, keep going
        error = str(e).strip().splitlines()[-1][:160] if str(e).strip() else type(e).__name__
    seconds = time.time() - started
    result = probe_result(nb) if error is None else None
    out = OUT / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    backend = ""
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            kind = o.get("output_type")
            if kind == "stream" and o.get("name") == "stdout":
                text = o.get("text", "")
            elif kind in ("display_data", "execute_result"):
                text = o.get("data", {}).get("text/plain", "")  # the trainers' summary line (d2l.showSummary)
            else:
                continue
            for line in ("".join(text) if isinstance(text, list) else text).splitlines():
                if " examples/sec on " in line or " tokens/sec on " in line:
                    backend = line.split(" on ", 1)[1].strip()
                elif line.startswith("training on ") and not backend:
                    backend = line[len("training on "):].strip()
    return result, seconds, backend, error


def fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return json.dumps(v) if not isinstance(v, (int, str)) else str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", help="paths relative to notebooks/ (default: issue 6's MLP, LeNet, house prices)")
    ap.add_argument("--backend", help="D2L_BACKEND for the kernel (default: the library's choice)")
    ap.add_argument("--timeout", type=int, default=6 * 3600, help="seconds per cell (default 6 h)")
    ap.add_argument("--list", action="store_true", help="print the notebooks with book numbers and exit")
    args = ap.parse_args()
    if args.list:
        for k, v in BOOK.items():
            print(f"{k}: {v}")
        return 0
    os.environ.pop("D2L_QUICK", None)
    if args.backend:
        os.environ["D2L_BACKEND"] = args.backend
    rows = []
    for rel in args.notebooks or DEFAULT:
        print(f"running {rel} (full settings) ...", flush=True)
        result, seconds, backend, error = run(rel, args.timeout)
        rows.append((rel, result, seconds, backend, error))
        print(f"  {json.dumps(result)} in {seconds:.0f} s{'; error: ' + error if error else ''}", flush=True)
    print()
    print("| notebook | metric | d2l-ts | book | wall | backend |")
    print("|---|---|---|---|---|---|")
    failed = False
    for rel, result, seconds, backend, error in rows:
        name = rel.split("/")[-1].replace(".ipynb", "")
        if error or result is None:
            failed = True
            print(f"| {name} | error | {error or 'the probe returned nothing'} | | {seconds:.0f} s | {backend} |")
            continue
        book = BOOK.get(rel, {})
        keys = list(book) + [k for k in result if k not in book]
        for i, k in enumerate(keys):
            ours = fmt(result[k]) if k in result else "(not reported)"
            print(f"| {name if i == 0 else ''} | {k} | {ours} | {fmt(book[k]) if k in book else ''} | {f'{seconds:.0f} s' if i == 0 else ''} | {backend if i == 0 else ''} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
