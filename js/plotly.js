// plotly.js arrives from Python once per page: the plotly.min.js the installed plotly package ships
// (one copy, the version its own renderers use), no CDN, so charts render offline. It is a UMD
// bundle: wrapped here as an ES module whose CommonJS `module` it fills, imported from a Blob URL,
// and cached on window.

/** @param {{request: Function}} rpc @returns {Promise<any>} */
export function loadPlotly(rpc) {
  const w = /** @type {any} */ (window);
  if (!w.__loopJupyterPlotly) {
    w.__loopJupyterPlotly = rpc.request("plotly").then(async (/** @type {any} */ reply) => {
      const source = ["const module = { exports: {} }; const exports = module.exports;\n", reply.buffers[0], "\n;export default module.exports;\n"];
      const url = URL.createObjectURL(new Blob(source, { type: "text/javascript" }));
      try {
        const mod = await import(/* webpackIgnore: true */ url);
        return mod.default;
      } finally {
        URL.revokeObjectURL(url);
      }
    });
    w.__loopJupyterPlotly.catch(() => { w.__loopJupyterPlotly = null; });
  }
  return w.__loopJupyterPlotly;
}

/** Render a figure JSON ({data, layout}) into el, themed from JupyterLab's CSS variables. */
export async function renderFigure(/** @type {any} */ rpc, /** @type {HTMLElement} */ el, /** @type {any} */ figure) {
  const Plotly = await loadPlotly(rpc);
  const css = getComputedStyle(el);
  const fg = css.getPropertyValue("--jp-ui-font-color1").trim() || "#333";
  const grid = css.getPropertyValue("--jp-border-color2").trim() || "#e0e0e0";
  const layout = {
    ...(figure.layout || {}),
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { ...((figure.layout || {}).font || {}), color: fg },
    autosize: true,
    height: (figure.layout && figure.layout.height) || 320,
    margin: { l: 50, r: 20, t: figure.layout && figure.layout.title ? 40 : 16, b: 40, ...((figure.layout || {}).margin || {}) },
  };
  for (const axis of ["xaxis", "yaxis"]) layout[axis] = { gridcolor: grid, zerolinecolor: grid, ...(layout[axis] || {}) };
  delete layout.template;
  await Plotly.newPlot(el, figure.data || [], layout, { responsive: true, displaylogo: false });
  return Plotly;
}
