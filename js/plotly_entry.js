// Re-exported as an ES module so the browser can import it from a Blob URL.
import Plotly from "plotly.js-dist-min";
export default Plotly;
