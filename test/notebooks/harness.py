"""What the notebook tests (and bench/book.py) do to a notebook around running it,
so that nothing on the page exists only for them:

* **Quick parameters.** A code cell tagged `parameters` holds the book's settings
  (`const lr = 0.01, numEpochs = 10;`). When its metadata has `d2l.quick`, a
  dictionary of names to JSON values, quick runs put a cell tagged
  `injected-parameters` right after it that declares those names again with the
  quick values (papermill's convention; the kernel lets a later cell redeclare a
  name). Full runs (bench/book.py) leave the notebook as it is.
* **The probe.** After the notebook, the harness appends one cell of its own: the
  body of an async TypeScript function, from the notebook's check, that returns
  what the check asserts (it reads the notebook's variables in the kernel). Its
  value comes back as `application/json` display data.
* **Plots.** Every vega-lite output of the run, read back as its series:
  `{series name: [(x, y), ...]}` (the Animator's final state among them).
"""
import json
import re

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
PROBE_TAG = "d2l-test-probe"
VEGA = "application/vnd.vegalite.v5+json"
NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def _code_cell(source, tag):
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [tag]
    return cell


def declares(source, name):
    """Whether a cell's source declares `name` with const or let (`const a = 1, name = 2;`, `const [x, name] = ...`)."""
    return re.search(r"\b(?:const|let)\s[^;]*?(?<![.\w$])" + re.escape(name) + r"\s*[=,\]:]", source) is not None


def quick_parameters(cell):
    """The quick values of a parameters cell (a dict, possibly empty), checked against what it declares."""
    quick = cell.get("metadata", {}).get("d2l", {}).get("quick", {})
    if not isinstance(quick, dict):
        raise ValueError(f"metadata.d2l.quick of a parameters cell must map names to values, got {quick!r}")
    source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
    for name in quick:
        if not NAME.match(name):
            raise ValueError(f"metadata.d2l.quick names {name!r}, which is not a TypeScript name")
        if not declares(source, name):
            raise ValueError(f"metadata.d2l.quick sets {name!r}, which the parameters cell does not declare:\n{source}")
    return quick


def inject_quick_parameters(nb):
    """Put the quick values after each parameters cell that has some; returns how many cells were added."""
    added = 0
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type != "code" or PARAMETERS_TAG not in _tags(cell):
            continue
        quick = quick_parameters(cell)
        if not quick:
            continue
        decl = ", ".join(f"{k} = {json.dumps(v)}" for k, v in quick.items())
        cells.append(_code_cell(f"// quick mode (D2L_QUICK=1): the test harness's values for this run\nconst {decl};", INJECTED_TAG))
        added += 1
    nb.cells = cells
    return added


def append_probe(nb, body):
    """Append the probe cell: `body` is the body of an async function returning a JSON-able object."""
    source = "void display.json(await (async () => {\n" + body.strip("\n") + "\n})());"
    nb.cells.append(_code_cell(source, PROBE_TAG))


def probe_result(nb):
    """The object the probe cell returned, or None when it did not run to the end."""
    last = nb.cells[-1]
    if PROBE_TAG not in _tags(last):
        raise ValueError("the notebook has no probe cell at its end")
    for out in last.get("outputs", []):
        if out.get("output_type") in ("display_data", "execute_result") and "application/json" in out.get("data", {}):
            return out["data"]["application/json"]
    return None


def plots_of(nb):
    """The mime bundles of the rich outputs that carry a vega-lite plot (the final state of live ones)."""
    return [out["data"] for cell in nb.cells for out in cell.get("outputs", [])
            if out.get("output_type") in ("display_data", "execute_result") and VEGA in out.get("data", {})]


def series_of(bundle):
    """A vega-lite plot d2l drew, as {series name: [(x, y), ...]} in the order the points were added."""
    values = [v for v in bundle[VEGA].get("data", {}).get("values", []) if "x" in v and "y" in v]  # line plots (not histograms)
    out = {}
    for v in sorted(values, key=lambda v: (v.get("s", ""), v.get("i", 0))):
        out.setdefault(v.get("s", ""), []).append((v["x"], v["y"]))
    return out


def segment_mean(points, x0, x1):
    """The mean of a quantity over the batches in (x0, x1] of the first epoch, from the Animator's
    running means of it.

    The training Animator plots, at x = batches done / batches per epoch, the mean loss of the
    epoch so far; with batches of equal size the mean over (x0, x1] is (y1 x1 - y0 x0) / (x1 - x0),
    where x0 = 0 is the epoch's start."""
    ys = dict(points)
    y0 = 0.0 if x0 == 0 else ys[x0]
    return (ys[x1] * x1 - y0 * x0) / (x1 - x0)
