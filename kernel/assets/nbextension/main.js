// d2l-ts' extension for the classic Jupyter Notebook (6.x): renders
// application/vnd.plotly.v1+json outputs (d2l.plotly) with plotly.js, loaded
// from this folder (installed beside this file by d2l-ts; no CDN). Outputs
// without that mime type are untouched; where plotly.js cannot load, the
// figure's PNG is shown instead.
define(["jquery", "base/js/namespace", "notebook/js/outputarea", "require"], function ($, Jupyter, outputarea, require) {
  "use strict";
  var MIME = "application/vnd.plotly.v1+json";
  var OutputArea = outputarea.OutputArea;
  var loading = null;

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = require.toUrl("./plotly.min.js");
        s.onload = function () {
          if (window.Plotly) resolve(window.Plotly);
          else reject(new Error("plotly.min.js loaded but defined no Plotly"));
        };
        s.onerror = function () {
          reject(new Error("cannot load " + s.src));
        };
        document.head.appendChild(s);
      });
    }
    return loading;
  }

  function append(fig, md, element) {
    var toinsert = this.create_output_subarea(md, "output_plotly", MIME);
    var size = (md && md["image/png"]) || {};
    var div = $("<div/>").addClass("d2l-plotly");
    toinsert.append(div);
    element.append(toinsert);
    loadPlotly()
      .then(function (Plotly) {
        var layout = Object.assign({}, size.width ? { width: size.width } : {}, size.height ? { height: size.height } : {}, fig.layout || {});
        var config = Object.assign({ displaylogo: false }, fig.config || {});
        return Plotly.newPlot(div[0], fig.data || [], layout, config).then(function () {
          div.attr("data-d2l-plotly-ready", "1");
        });
      })
      .catch(function (e) {
        div.attr("data-d2l-plotly-error", String((e && e.message) || e));
        div.text("plotly.js did not draw this figure (" + String((e && e.message) || e) + "); rerun d2l-ts install.");
      });
    return toinsert;
  }

  function load_ipython_extension() {
    if (OutputArea.append_map[MIME]) return;
    // First in the display order: preferred over the figure's PNG. Safe in untrusted notebooks too:
    // plotly draws the JSON as data and runs none of it.
    OutputArea.prototype.register_mime_type(MIME, append, { safe: true, index: 0 });
    // Outputs drawn before the extension loaded (a saved notebook being opened) are drawn again.
    var nb = Jupyter.notebook;
    if (!nb) return;
    nb.get_cells().forEach(function (cell) {
      var area = cell.output_area;
      if (!area || !area.outputs) return;
      var has = area.outputs.some(function (o) {
        return o.data && o.data[MIME] !== undefined;
      });
      if (!has) return;
      var outputs = area.toJSON();
      area.clear_output(false, true);
      area.fromJSON(outputs, cell.metadata);
    });
  }

  return { load_ipython_extension: load_ipython_extension };
});
