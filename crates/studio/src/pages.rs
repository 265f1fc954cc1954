//! The runs and compare pages: static HTML shells whose scripts read the JSON API, and the
//! assets every page uses. Everything is compiled into the binary (no CDN, no network at run
//! time).

/// `/assets/<name>`: (content type, body) of the embedded assets.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    const JS: &str = "text/javascript; charset=utf-8";
    Some(match name {
        "studio.css" => ("text/css; charset=utf-8", crate::report::CSS),
        "common.js" => (JS, include_str!("../assets/common.js")),
        "runs.js" => (JS, include_str!("../assets/runs.js")),
        "compare.js" => (JS, include_str!("../assets/compare.js")),
        "report.js" => (JS, crate::report::REPORT_JS),
        _ => return None,
    })
}

fn page(title: &str, body: &str, script: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title><link rel="stylesheet" href="/assets/studio.css"></head><body><header><h1>kiln studio</h1><nav><a href="/">Runs</a> · <a href="/compare">Compare</a></nav></header>{body}<script src="/assets/common.js"></script><script src="/assets/{script}"></script></body></html>"#
    )
}

/// `/`: every run, with its hparams and metrics.
pub fn runs_page() -> String {
    page(
        "kiln studio: runs",
        r#"<h2>Runs</h2><div class="controls"><input id="filter" placeholder="filter by name or hparam"><span id="count"></span><button id="compare" type="button">Compare selected</button></div><table id="runs"></table>"#,
        "runs.js",
    )
}

/// `/compare?runs=a&runs=b`: the runs overlaid.
pub fn compare_page() -> String {
    page(
        "kiln studio: compare",
        r#"<h2>Compare</h2><div id="pickers" class="controls"></div>
<div class="controls"><label>scalar <select id="tag"></select></label>
<label>smoothing <input id="smoothing" type="range" min="0" max="0.99" step="0.01" value="0.6"> <span id="smoothing-value"></span></label>
<label><input id="log" type="checkbox"> log scale</label>
<label>x axis <select id="axis"><option value="step">step</option><option value="relative">relative time</option><option value="wall">wall time</option></select></label></div>
<div id="chart"></div><div id="legend"></div>
<h3>Hyperparameters</h3><p class="hint">Rows that differ between the runs are highlighted.</p><table id="hparams"></table>
<h3>Parallel coordinates</h3><div id="parallel"></div>"#,
        "compare.js",
    )
}
