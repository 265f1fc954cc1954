//! `Sequential::summary`: Keras's model summary table (layer name and type, output shape, param
//! count, then total / trainable / non-trainable params with their size in bytes).

use crate::sequential::Sequential;

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

impl Sequential {
    /// The Keras summary table: layer (type), output shape, param #, then the totals.
    pub fn summary(&self) -> String {
        let shape = |s: &[usize]| {
            format!(
                "(None, {})",
                s.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let rows: Vec<[String; 3]> = self
            .slots
            .iter()
            .map(|s| {
                let out = if self.input_shape().is_some() {
                    shape(&s.output_shape)
                } else {
                    "?".into()
                };
                let n: usize = s.layer.weights().iter().map(|w| w.value.numel()).sum();
                [
                    format!("{} ({})", s.name, s.layer.class_name()),
                    out,
                    group_digits(n),
                ]
            })
            .collect();
        let w = [33, 24, 15];
        let line = |l: &str, m: &str, r: &str, f: &str| {
            format!(
                "{l}{}{m}{}{m}{}{r}\n",
                f.repeat(w[0]),
                f.repeat(w[1]),
                f.repeat(w[2])
            )
        };
        let row = |c: &[String; 3], sep: &str| {
            format!(
                "{sep} {:<a$}{sep} {:<b$}{sep} {:>c$} {sep}\n",
                c[0],
                c[1],
                c[2],
                a = w[0] - 1,
                b = w[1] - 1,
                c = w[2] - 2
            )
        };
        let mut out = format!("Model: \"{}\"\n", self.name());
        out += &line("┏", "┳", "┓", "━");
        out += &row(
            &[
                "Layer (type)".into(),
                "Output Shape".into(),
                "Param #".into(),
            ],
            "┃",
        );
        out += &line("┡", "╇", "┩", "━");
        for (i, r) in rows.iter().enumerate() {
            out += &row(r, "│");
            out += &if i + 1 == rows.len() {
                line("└", "┴", "┘", "─")
            } else {
                line("├", "┼", "┤", "─")
            };
        }
        let (total, trainable, frozen) = self.count_params();
        out += &format!(
            " Total params: {} ({})\n",
            group_digits(total),
            human_bytes(total)
        );
        out += &format!(
            " Trainable params: {} ({})\n",
            group_digits(trainable),
            human_bytes(trainable)
        );
        out += &format!(
            " Non-trainable params: {} ({})\n",
            group_digits(frozen),
            human_bytes(frozen)
        );
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
}
