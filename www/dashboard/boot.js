// Starts the dashboard's WebAssembly (its start function mounts the app).
import init from "./pkg/till_dashboard.js";
init({ module_or_path: new URL("./pkg/till_dashboard_bg.wasm", import.meta.url) });
