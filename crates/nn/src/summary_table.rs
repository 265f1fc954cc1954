//! `Model::summary`: Keras's model summary table, as Keras 3 prints it outside a terminal (rich
//! tables at 76 columns): layer name and type, output shape, param count and, for a functional
//! model that is not a plain chain, the `Connected to` column (`layer[call][0]` per input);
//! a nested model is one row. Then total / trainable / non-trainable params with their size in
//! bytes. Cells too long for their column wrap at spaces, as rich wraps them.

use std::collections::HashMap;

use crate::model::{Kind, Model};

fn group_digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn human_bytes(params: usize) -> String {
    let b = params as f64 * 4.0;
    if b < 1024.0 {
        format!("{b:.2} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2} KB", b / 1024.0)
    } else {
        format!("{:.2} MB", b / 1024.0 / 1024.0)
    }
}

/// `text` in lines of at most `width` characters, broken at spaces; a word longer than a line
/// is cut and ends in an ellipsis (rich's `overflow="ellipsis"`, what Keras's tables show).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        if word.chars().count() > width {
            word = word
                .chars()
                .take(width.saturating_sub(1))
                .collect::<String>()
                + "…";
        }
        let need = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if need > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    lines.push(line);
    lines
}

/// A table with one column per `widths` entry (each cell padded by a space on both sides),
/// right-aligned where `right` says.
fn table(header: &[&str], rows: &[Vec<String>], widths: &[usize], right: &[bool]) -> String {
    let line = |l: &str, m: &str, r: &str, f: &str| {
        let parts: Vec<String> = widths.iter().map(|&w| f.repeat(w)).collect();
        format!("{l}{}{r}\n", parts.join(m))
    };
    let row = |cells: &[String], sep: &str| {
        let wrapped: Vec<Vec<String>> = cells
            .iter()
            .zip(widths)
            .map(|(c, &w)| wrap(c, w - 2))
            .collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        let mut out = String::new();
        for k in 0..height {
            out += sep;
            for (i, (lines, &w)) in wrapped.iter().zip(widths).enumerate() {
                let text = lines.get(k).map_or("", String::as_str);
                out += &if right[i] {
                    format!(" {text:>0$} ", w - 2)
                } else {
                    format!(" {text:<0$} ", w - 2)
                };
                out += sep;
            }
            out += "\n";
        }
        out
    };
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = line("┏", "┳", "┓", "━");
    out += &row(&head, "┃");
    out += &line("┡", "╇", "┩", "━");
    for (i, r) in rows.iter().enumerate() {
        out += &row(r, "│");
        out += &if i + 1 == rows.len() {
            line("└", "┴", "┘", "─")
        } else {
            line("├", "┼", "┤", "─")
        };
    }
    out
}

/// A row of the table: an input node or a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Operation {
    Input(usize),
    Layer(usize),
}

impl Model {
    fn operation(&self, node: usize) -> Operation {
        match self.nodes[node].layer {
            Some(l) => Operation::Layer(l),
            None => Operation::Input(node),
        }
    }

    /// Keras's order of a functional model's operations (`Functional._operations`): by depth,
    /// the longest path to an output, deepest first; ties by when a depth-first walk from the
    /// outputs (inputs in order) first meets them.
    fn keras_order(&self) -> Vec<Operation> {
        let mut node_depth = vec![0usize; self.nodes.len()];
        let mut depth: HashMap<Operation, usize> = HashMap::new();
        for k in (0..self.nodes.len()).rev() {
            let op = self.operation(k);
            let d = node_depth[k].max(depth.get(&op).copied().unwrap_or(0));
            depth.insert(op, d);
            node_depth[k] = d;
            for &j in &self.nodes[k].inputs {
                node_depth[j] = node_depth[j].max(d + 1);
            }
        }
        let mut first_seen: HashMap<Operation, usize> = HashMap::new();
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<usize> = self.outputs.iter().rev().copied().collect();
        while let Some(k) = stack.pop() {
            if std::mem::replace(&mut seen[k], true) {
                continue;
            }
            let n = first_seen.len();
            first_seen.entry(self.operation(k)).or_insert(n);
            stack.extend(self.nodes[k].inputs.iter().rev());
        }
        let mut ops: Vec<Operation> = depth.keys().copied().collect();
        ops.sort_by_key(|o| {
            (
                std::cmp::Reverse(depth[o]),
                first_seen.get(o).copied().unwrap_or(usize::MAX),
            )
        });
        ops
    }

    /// Whether the graph is a plain chain (Keras then prints it without `Connected to`): every
    /// call has one input, no layer is called twice, one input and one output.
    fn chain_like(&self) -> bool {
        let calls: Vec<usize> = self.nodes.iter().filter_map(|n| n.layer).collect();
        let mut unique = calls.clone();
        unique.sort_unstable();
        unique.dedup();
        let mut readers = vec![0usize; self.nodes.len()];
        for n in &self.nodes {
            for &j in &n.inputs {
                readers[j] += 1;
            }
        }
        self.inputs.len() == 1
            && self.outputs.len() == 1
            && unique.len() == calls.len()
            && self.nodes.iter().all(|n| n.inputs.len() <= 1)
            && readers.iter().all(|&r| r <= 1)
    }

    /// The Keras summary table: layer (type), output shape, param # (and connections for a
    /// functional graph), then the totals.
    pub fn summary(&self) -> String {
        let shape = |s: Option<&Vec<usize>>| match s {
            Some(s) => {
                let dims: Vec<String> = std::iter::once("None".to_string())
                    .chain(s.iter().map(|d| d.to_string()))
                    .collect();
                format!("({})", dims.join(", "))
            }
            None => "?".into(),
        };
        let connected = self.kind == Kind::Functional && !self.chain_like();
        // One row per operation (an input or a layer), in node order first.
        let mut calls = vec![0usize; self.slots.len()];
        let mut at: Vec<(String, usize)> = Vec::with_capacity(self.nodes.len());
        let mut rows: HashMap<Operation, Vec<String>> = HashMap::new();
        for (k, node) in self.nodes.iter().enumerate() {
            let Some(l) = node.layer else {
                at.push((node.name.clone(), 0));
                let mut r = vec![
                    format!("{} (InputLayer)", node.name),
                    shape(node.shape.as_ref()),
                    "0".into(),
                ];
                if connected {
                    r.push("-".into());
                }
                rows.insert(Operation::Input(k), r);
                continue;
            };
            let links: Vec<String> = node
                .inputs
                .iter()
                .map(|&j| format!("{}[{}][0]", at[j].0, at[j].1))
                .collect();
            at.push((self.slots[l].name.clone(), calls[l]));
            calls[l] += 1;
            // A shared layer is one row: its last call's shape, every connection.
            match rows.get_mut(&Operation::Layer(l)) {
                Some(r) => {
                    r[1] = shape(node.shape.as_ref());
                    if connected {
                        r[3] = format!("{}, {}", r[3], links.join(", "));
                    }
                }
                None => {
                    let s = &self.slots[l];
                    let n: usize = s.layer.weights().iter().map(|w| w.value.numel()).sum();
                    let mut r = vec![
                        format!("{} ({})", s.name, s.layer.class_name()),
                        shape(node.shape.as_ref()),
                        group_digits(n),
                    ];
                    if connected {
                        r.push(links.join(", "));
                    }
                    rows.insert(Operation::Layer(l), r);
                }
            }
        }
        let order = match self.kind {
            // A Sequential's table lists its layers, without the input.
            Kind::Sequential => (0..self.slots.len()).map(Operation::Layer).collect(),
            Kind::Functional => self.keras_order(),
        };
        let rows: Vec<Vec<String>> = order.iter().filter_map(|o| rows.remove(o)).collect();
        let mut out = format!("Model: \"{}\"\n", self.name());
        out += &if connected {
            let header = ["Layer (type)", "Output Shape", "Param #", "Connected to"];
            table(
                &header,
                &rows,
                &[21, 19, 12, 19],
                &[false, false, true, false],
            )
        } else {
            let header = ["Layer (type)", "Output Shape", "Param #"];
            table(&header, &rows, &[33, 24, 15], &[false, false, true])
        };
        let (total, trainable, frozen) = self.count_params();
        for (label, n) in [
            ("Total", total),
            ("Trainable", trainable),
            ("Non-trainable", frozen),
        ] {
            out += &format!(
                " {label} params: {} ({})\n",
                group_digits(n),
                human_bytes(n)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_and_sized_as_keras_prints_them() {
        assert_eq!(group_digits(101770), "101,770");
        assert_eq!(human_bytes(101_770), "397.54 KB");
    }

    #[test]
    fn long_cells_wrap_at_spaces() {
        assert_eq!(wrap("(None, 224, 224, 3)", 16), ["(None, 224, 224,", "3)"]);
        // As Keras prints `avg_pool (GlobalAveragePooling2D)` in a 19-wide column.
        assert_eq!(
            wrap("avg_pool (GlobalAveragePooling2D)", 19),
            ["avg_pool", "(GlobalAveragePool…"]
        );
        assert_eq!(wrap("", 4), [""]);
    }
}
