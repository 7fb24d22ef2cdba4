// loop_jupyter's JupyterLab / Notebook 7 extension (prebuilt, shipped in the wheel under
// share/jupyter/labextensions/loop-jupyter). The chat widget runs in an output and cannot reach the
// application; "Insert as cell" dispatches a "loop-jupyter:insert-cell" DOM event from its button
// with {source}. This plugin inserts that source as a new code cell right below the widget's own
// cell, in the notebook that holds the widget, and marks the event handled (the widget otherwise
// falls back to the clipboard and says so). It inserts text only: nothing is executed.
const EVENT = "loop-jupyter:insert-cell";

/** The notebook panel whose DOM holds `target` (JupyterLab and Notebook 7 shells both list "main"). */
function panelHolding(app, target) {
  for (const widget of app.shell.widgets("main")) {
    const notebook = widget.content;
    if (notebook && notebook.model && notebook.widgets && widget.node.contains(target)) return widget;
  }
  return null;
}

const plugin = {
  id: "loop-jupyter:insert-cell",
  description: "Lets the Loop chat widget insert a code cell below its output.",
  autoStart: true,
  activate(app) {
    document.addEventListener(EVENT, (event) => {
      const detail = event.detail;
      if (!detail || typeof detail.source !== "string" || detail.handled) return;
      const panel = panelHolding(app, event.target);
      if (!panel) return;
      const notebook = panel.content;
      const own = notebook.widgets.findIndex((cell) => cell.node.contains(event.target));
      const at = own >= 0 ? own + 1 : notebook.widgets.length;
      notebook.model.sharedModel.insertCell(at, { cell_type: "code", source: detail.source, metadata: {} });
      notebook.activeCellIndex = at;
      detail.handled = true;
      detail.index = at;
      const cell = notebook.widgets[at];
      if (cell && typeof notebook.scrollToCell === "function") notebook.scrollToCell(cell).catch(() => null);
    });
  },
};

export default plugin;
