//! Server-side SVG for the run report, so the exported HTML file needs no script to show its
//! charts: line charts of scalar series and the layer graph. (The compare page draws in the
//! browser instead, where smoothing and axes change live.)

use std::collections::HashMap;
use std::fmt::Write;

use crate::run_data::{GraphNode, Point};

/// Series colours (TensorBoard's palette order).
pub const COLORS: [&str; 8] = [
    "#ff7043", "#0077bb", "#009988", "#ee3377", "#33bbee", "#cc3311", "#bbbbbb", "#000000",
];

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A line chart of `(label, points)` series over steps, with min/max ticks and a legend.
pub fn line_chart(title: &str, series: &[(String, &[Point])]) -> String {
    let (w, h, left, right, top, bottom) = (520.0, 260.0, 56.0, 12.0, 28.0, 46.0);
    let pts = series.iter().flat_map(|(_, p)| p.iter());
    let finite: Vec<&Point> = pts.filter(|p| p.value.is_finite()).collect();
    let mut svg = format!(
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}"><text x="{left}" y="18" class="title">{t}</text>"#,
        t = esc(title)
    );
    if finite.is_empty() {
        svg += r#"<text x="60" y="120">no data yet</text></svg>"#;
        return svg;
    }
    let (mut x0, mut x1) = (i64::MAX, i64::MIN);
    let (mut y0, mut y1) = (f32::INFINITY, f32::NEG_INFINITY);
    for p in &finite {
        x0 = x0.min(p.step);
        x1 = x1.max(p.step);
        y0 = y0.min(p.value);
        y1 = y1.max(p.value);
    }
    if x1 == x0 {
        x1 = x0 + 1;
    }
    if y1 - y0 < 1e-12 {
        y1 = y0 + 1.0;
    }
    let sx = |s: i64| left + (s - x0) as f64 / (x1 - x0) as f64 * (w - left - right);
    let sy = |v: f32| top + (1.0 - ((v - y0) / (y1 - y0)) as f64) * (h - top - bottom);
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{b}" x2="{r}" y2="{b}" stroke="#888"/><line x1="{left}" y1="{top}" x2="{left}" y2="{b}" stroke="#888"/><text x="{left}" y="{lx}" class="tick">{x0}</text><text x="{r}" y="{lx}" class="tick" text-anchor="end">{x1}</text><text x="{tl}" y="{yt}" class="tick" text-anchor="end">{y1:.4}</text><text x="{tl}" y="{b}" class="tick" text-anchor="end">{y0:.4}</text>"##,
        b = h - bottom,
        r = w - right,
        lx = h - bottom + 14.0,
        tl = left - 4.0,
        yt = top + 4.0,
    );
    for (i, (label, points)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let d: Vec<String> = points
            .iter()
            .filter(|p| p.value.is_finite())
            .map(|p| format!("{:.1},{:.1}", sx(p.step), sy(p.value)))
            .collect();
        if d.is_empty() {
            continue;
        }
        let _ = write!(
            svg,
            r#"<polyline class="series" data-label="{l}" fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            d.join(" "),
            l = esc(label)
        );
        // Dots where the points are few (a one-epoch run's single point shows at all).
        if d.len() <= 60 {
            for xy in &d {
                let (x, y) = xy.split_once(',').unwrap_or(("0", "0"));
                let _ = write!(svg, r#"<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>"#);
            }
        }
        let (lx, ly) = (
            left + 150.0 * (i % 3) as f64,
            h - 22.0 + 14.0 * (i / 3).min(1) as f64,
        );
        let _ = write!(
            svg,
            r#"<rect x="{lx}" y="{}" width="10" height="10" fill="{color}"/><text x="{}" y="{ly}" class="legend">{}</text>"#,
            ly - 9.0,
            lx + 14.0,
            esc(label)
        );
    }
    svg += "</svg>";
    svg
}

/// The layer graph: nodes in rows by depth (longest path from an input), edges as lines.
pub fn layer_graph(nodes: &[GraphNode]) -> String {
    const MAX: usize = 400;
    let nodes = &nodes[..nodes.len().min(MAX)];
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    // Nodes come in topological order (kiln writes them so); a forward edge is ignored.
    let mut depth = vec![0usize; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for inp in &n.inputs {
            if let Some(&j) = index.get(inp.as_str()).filter(|&&j| j < i) {
                depth[i] = depth[i].max(depth[j] + 1);
            }
        }
    }
    let rows = depth.iter().max().map_or(0, |d| d + 1);
    let mut col = vec![0usize; nodes.len()];
    let mut width = vec![0usize; rows];
    for (i, &d) in depth.iter().enumerate() {
        col[i] = width[d];
        width[d] += 1;
    }
    let (bw, bh, gx, gy) = (150.0, 34.0, 20.0, 26.0);
    let cols = width.iter().copied().max().unwrap_or(1).max(1);
    let (w, h) = (cols as f64 * (bw + gx) + gx, rows as f64 * (bh + gy) + gy);
    let pos = |i: usize| {
        let offset = (cols - width[depth[i]]) as f64 * (bw + gx) / 2.0;
        (
            gx + offset + col[i] as f64 * (bw + gx),
            gy + depth[i] as f64 * (bh + gy),
        )
    };
    let mut svg = format!(
        r#"<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}">"#
    );
    for (i, n) in nodes.iter().enumerate() {
        for inp in &n.inputs {
            if let Some(&j) = index.get(inp.as_str()) {
                let ((ax, ay), (bx, by)) = (pos(j), pos(i));
                let _ = write!(
                    svg,
                    r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{by:.1}" stroke="#999"/>"##,
                    ax + bw / 2.0,
                    ay + bh,
                    bx + bw / 2.0
                );
            }
        }
    }
    for (i, n) in nodes.iter().enumerate() {
        let (x, y) = pos(i);
        let _ = write!(
            svg,
            r##"<g class="node"><rect x="{x:.1}" y="{y:.1}" width="{bw}" height="{bh}" rx="5" fill="#fff3e0" stroke="#ff7043"/><text x="{:.1}" y="{:.1}" text-anchor="middle" class="node-name">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" class="node-op">{}</text></g>"##,
            x + bw / 2.0,
            y + 14.0,
            esc(&n.name),
            x + bw / 2.0,
            y + 28.0,
            esc(&n.op)
        );
    }
    svg += "</svg>";
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_labels_and_skip_non_finite_points() {
        let pts = [
            Point {
                step: 0,
                wall_time: 0.0,
                value: 1.0,
            },
            Point {
                step: 1,
                wall_time: 1.0,
                value: f32::NAN,
            },
            Point {
                step: 2,
                wall_time: 2.0,
                value: 0.5,
            },
        ];
        let svg = line_chart("loss <x>", &[("a&b".into(), &pts)]);
        assert!(svg.contains("loss &lt;x&gt;") && svg.contains("a&amp;b"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches(',').count(), 2, "two finite points");
        assert!(line_chart("empty", &[]).contains("no data"));
        let g = layer_graph(&[
            GraphNode {
                name: "in".into(),
                op: "Input".into(),
                inputs: vec![],
            },
            GraphNode {
                name: "d".into(),
                op: "Dense".into(),
                inputs: vec!["in".into()],
            },
        ]);
        assert_eq!(g.matches("<line").count(), 1);
        assert_eq!(g.matches("class=\"node\"").count(), 2);
    }
}
