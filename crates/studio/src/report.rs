//! The run report (the Comet chapter's final report): Data (the run's sample images), Model
//! (the summary table and the layer graph), Evaluation (loss and accuracy curves, the
//! hyperparameters, the confusion matrix with counts whose cells open the evaluation examples
//! behind them) and, when served, Live prediction.
//!
//! One renderer makes both the served page and the exported file: charts are inline SVG,
//! images are data URIs, the style and the drill-down script are inlined, so the export is one
//! self-contained HTML file that reads offline.

use std::fmt::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kiln_summary::Pixels;
use kiln_summary::image::encode_png;
use serde_json::json;

use crate::runs::Run;
use crate::svg::{esc, layer_graph, line_chart};

/// The page's style (also served as /assets/studio.css).
pub const CSS: &str = include_str!("../assets/studio.css");
/// The drill-down and live-prediction script (also served as /assets/report.js).
pub const REPORT_JS: &str = include_str!("../assets/report.js");

/// Served page (with the live-prediction panel and links) or exported file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Served by `kiln-studio`.
    Served {
        /// Whether a model is loaded for live prediction.
        predict: bool,
    },
    /// Written by `kiln-studio report`.
    Export,
}

/// A data URI of PNG bytes.
fn png_uri(png: &[u8]) -> String {
    format!("data:image/png;base64,{}", STANDARD.encode(png))
}

/// The report of `run`; `classes` names the classes (indices when empty).
pub fn render(run: &Run, classes: &[String], mode: Mode) -> String {
    let d = &run.data;
    let title = format!("Run report: {}", run.name);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{CSS}</style></head><body><header><h1>{t}</h1>",
        t = esc(&title)
    );
    if let Mode::Served { .. } = mode {
        h += r#"<nav><a href="/">Runs</a> · <a href="/compare">Compare</a></nav>"#;
    }
    h += "</header>";
    if !d.problems.is_empty() {
        h += "<p class=\"problem\">Some records could not be read: ";
        h += &esc(&d.problems.join("; "));
        h += "</p>";
    }

    // Data.
    h += "<section id=\"data\"><h2>Data</h2>";
    let samples: Vec<&Vec<u8>> = d
        .images
        .iter()
        .filter(|(k, _)| k.ends_with("input_samples"))
        .flat_map(|(_, v)| v)
        .collect();
    if samples.is_empty() {
        h += "<p>The run has no sample images (write them with <code>TensorBoard::write_images(n)</code>).</p>";
    } else {
        h += "<div class=\"samples\">";
        for png in samples {
            let _ = write!(
                h,
                r#"<img class="sample" src="{}" alt="training sample">"#,
                png_uri(png)
            );
        }
        h += "</div>";
    }
    h += "</section>";

    // Model.
    h += "<section id=\"model\"><h2>Model</h2>";
    match d.texts.iter().find(|(k, _)| k.ends_with("model_summary")) {
        Some((_, s)) => {
            let table = s.trim().trim_start_matches("```").trim_end_matches("```");
            let _ = write!(
                h,
                "<pre class=\"summary\">{}</pre>",
                esc(table.trim_matches('\n'))
            );
        }
        None => h += "<p>No model summary in the run (<code>write_graph</code> is off).</p>",
    }
    if !d.graph.is_empty() {
        h += "<h3>Layer graph</h3><div class=\"graph-box\">";
        h += &layer_graph(&d.graph);
        h += "</div>";
    }
    h += "</section>";

    // Evaluation.
    h += "<section id=\"evaluation\"><h2>Evaluation</h2><div class=\"charts\">";
    for metric in ["loss", "accuracy"] {
        let series: Vec<(String, &[crate::run_data::Point])> = ["train", "validation"]
            .iter()
            .filter_map(|s| {
                let key = format!("{s}/epoch_{metric}");
                d.scalars.get(&key).map(|p| (s.to_string(), p.as_slice()))
            })
            .collect();
        if !series.is_empty() {
            h += &line_chart(&format!("epoch_{metric}"), &series);
        }
    }
    h += "</div>";
    if !d.hparams.is_empty() {
        h +=
            "<h3>Hyperparameters</h3><table class=\"hparams\"><tr><th>name</th><th>value</th></tr>";
        for (k, v) in &d.hparams {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), short),
                v => v.to_string(),
            };
            let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(&v));
        }
        h += "</table>";
    }
    h += &confusion_section(run, classes);
    h += "</section>";

    if let Mode::Served { predict } = mode {
        h += &predict_section(predict);
    }
    let _ = write!(h, "<script>{REPORT_JS}</script></body></html>");
    h
}

/// A number with at most 6 significant digits (hparams logged from f32 read 0.001, not
/// 0.0010000000474974513).
fn short(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let s = format!("{:.6e}", v);
    let back: f64 = s.parse().unwrap_or(v);
    let plain = format!("{back}");
    if plain.len() <= 12 { plain } else { s }
}

fn class_name(classes: &[String], i: usize) -> String {
    classes.get(i).cloned().unwrap_or_else(|| i.to_string())
}

fn confusion_section(run: &Run, classes: &[String]) -> String {
    let d = &run.data;
    let Some((n, counts)) = &d.confusion else {
        return "<p>No confusion matrix in the run (<code>TensorBoard::confusion_matrix(true)</code> with validation data).</p>".into();
    };
    let mut h = String::from(
        "<h3>Confusion matrix</h3><p class=\"hint\">Rows: true class; columns: predicted. Click a cell to see its examples.</p><table class=\"confusion\"><tr><th>true \\ predicted</th>",
    );
    for c in 0..*n {
        let _ = write!(h, "<th>{}</th>", esc(&class_name(classes, c)));
    }
    h += "</tr>";
    for r in 0..*n {
        let row = &counts[r * n..(r + 1) * n];
        let total = row.iter().sum::<u32>().max(1) as f32;
        let _ = write!(h, "<tr><th>{}</th>", esc(&class_name(classes, r)));
        for (c, &v) in row.iter().enumerate() {
            let alpha = v as f32 / total;
            let _ = write!(
                h,
                r#"<td class="cell" data-true="{r}" data-pred="{c}" style="background:rgba(0,119,187,{alpha:.3});color:{}">{v}</td>"#,
                if alpha > 0.5 { "#fff" } else { "#000" }
            );
        }
        h += "</tr>";
    }
    h += "</table><div id=\"drill\" class=\"drill\"></div>";
    let examples = evaluation_json(run, classes);
    let _ = write!(
        h,
        r#"<script type="application/json" id="eval-data">{}</script>"#,
        examples.to_string().replace("</", "<\\/")
    );
    h
}

/// The evaluation examples with their inputs as PNG data URIs (read from the split's npy).
fn evaluation_json(run: &Run, classes: &[String]) -> serde_json::Value {
    let Some(e) = &run.data.evaluation else {
        return json!({"classes": classes, "examples": [], "evaluated": 0});
    };
    let images = example_images(
        &run.dir.join("validation").join(&e.images),
        e.examples.len(),
    );
    let examples: Vec<_> = e
        .examples
        .iter()
        .map(|x| {
            json!({"index": x.index, "label": x.label, "predicted": x.predicted,
                   "probabilities": x.probabilities,
                   "image": images.get(x.index).cloned().flatten()})
        })
        .collect();
    let names: Vec<String> = (0..e.classes).map(|i| class_name(classes, i)).collect();
    json!({"classes": names, "examples": examples, "evaluated": e.examples.len(), "step": e.step})
}

/// PNG data URIs of the first `n` samples of an npy of images (None where not an image).
fn example_images(path: &Path, n: usize) -> Vec<Option<String>> {
    let Ok(a) = kiln_nn::Array::load_npy_f32(path) else {
        return Vec::new();
    };
    let Some(values) = a.as_f32() else {
        return Vec::new();
    };
    let (h, w, c) = match a.shape[1..] {
        [h, w] => (h, w, 1),
        [h, w, c] if matches!(c, 1 | 3 | 4) => (h, w, c),
        _ => return Vec::new(),
    };
    // Pixels in [0, 1] (or 0-255 for models that rescale themselves) are shown as such.
    let scale = if values.iter().any(|&v| v > 1.0) {
        1.0 / 255.0
    } else {
        1.0
    };
    let per = h * w * c;
    (0..a.len().min(n))
        .map(|i| {
            let px: Vec<f32> = values[i * per..(i + 1) * per]
                .iter()
                .map(|v| v * scale)
                .collect();
            encode_png(Pixels::F32(&px), h, w, c)
                .ok()
                .map(|p| png_uri(&p))
        })
        .collect()
}

fn predict_section(available: bool) -> String {
    if !available {
        return "<section id=\"predict\"><h2>Live prediction</h2><p>No model is loaded: start kiln-studio with <code>--model model.safetensors</code> (a file saved with <code>Model::save</code>).</p></section>".into();
    }
    r#"<section id="predict"><h2>Live prediction</h2>
<div class="predict-box"><div><label class="drop" id="drop">Drop an image here or <input type="file" id="upload" accept="image/*"></label>
<p>or draw one:</p><canvas id="draw" width="224" height="224"></canvas><br>
<button id="predict-drawing" type="button">Predict the drawing</button> <button id="clear-drawing" type="button">Clear</button></div>
<div id="prediction" class="prediction"></div></div></section>"#
        .into()
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn hparams_read_as_written() {
        assert_eq!(short(1e-3f32 as f64), "0.001");
        assert_eq!(short(64.0), "64");
        assert_eq!(short(0.5), "0.5");
        assert_eq!(short(1.234_567_891e-9), "1.234568e-9");
    }
}
