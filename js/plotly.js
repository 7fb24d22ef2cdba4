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

/** Keep a chart the size of its container: the lab's layout changes (a side panel opened or closed)
 * resize the output area without resizing the window, which is all Plotly's `responsive` follows.
 * @param {any} Plotly @param {HTMLElement} el */
function followSize(Plotly, el) {
  let width = el.clientWidth;
  let pending = 0;
  const observer = new ResizeObserver(() => {
    if (!el.isConnected) { observer.disconnect(); return; }
    const now = el.clientWidth;
    if (!now || now === width || pending) return; // hidden (0 wide) or unchanged: nothing to redraw
    pending = requestAnimationFrame(() => {
      pending = 0;
      width = el.clientWidth;
      Plotly.Plots.resize(el);
    });
  });
  observer.observe(el);
}

/** Render a figure JSON ({data, layout}) into el, themed from JupyterLab's CSS variables. */
export async function renderFigure(/** @type {any} */ rpc, /** @type {HTMLElement} */ el, /** @type {any} */ figure) {
  const Plotly = await loadPlotly(rpc);
  const css = getComputedStyle(el);
  const fg = css.getPropertyValue("--jp-ui-font-color1").trim() || "#333";
  const grid = css.getPropertyValue("--jp-border-color2").trim() || "#e0e0e0";
  const height = (figure.layout && figure.layout.height) || 320;
  const layout = {
    ...(figure.layout || {}),
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { ...((figure.layout || {}).font || {}), color: fg },
    autosize: true,
    height,
    margin: { l: 50, r: 20, t: figure.layout && figure.layout.title ? 40 : 16, b: 40, ...((figure.layout || {}).margin || {}) },
  };
  // automargin: long category labels (horizontal bars) widen the margin instead of being cut off.
  for (const axis of ["xaxis", "yaxis"]) layout[axis] = { gridcolor: grid, zerolinecolor: grid, automargin: true, ...(layout[axis] || {}) };
  delete layout.template;
  // The container holds the chart's height, so a resize (autosize) never falls back to a strip.
  el.style.height = `${height}px`;
  await Plotly.newPlot(el, figure.data || [], layout, { responsive: true, displaylogo: false });
  followSize(Plotly, el);
  return Plotly;
}
