//! A validation confusion matrix as TensorBoard shows it: an RGB heat map for the Images
//! dashboard and a markdown table (counts) for the Text dashboard.

/// A confusion matrix as an RGB heat map (rows: true label, columns: predicted), each row
/// normalised, `cell` pixels per entry, white (0) to dark blue (1).
pub fn confusion_image(classes: usize, counts: &[u32], cell: usize) -> (Vec<u8>, usize) {
    let side = classes * cell;
    let mut px = vec![0u8; side * side * 3];
    for r in 0..classes {
        let total: u32 = counts[r * classes..(r + 1) * classes].iter().sum();
        for c in 0..classes {
            let f = if total > 0 {
                counts[r * classes + c] as f32 / total as f32
            } else {
                0.0
            };
            let rgb = [
                255.0 * (1.0 - f * 0.9),
                255.0 * (1.0 - f * 0.7),
                255.0 * (1.0 - f * 0.3),
            ];
            for y in r * cell..(r + 1) * cell {
                for x in c * cell..(c + 1) * cell {
                    let border = y % cell == 0 || x % cell == 0;
                    for k in 0..3 {
                        px[(y * side + x) * 3 + k] = if border { 200 } else { rgb[k] as u8 };
                    }
                }
            }
        }
    }
    (px, side)
}

pub(crate) fn confusion_markdown(classes: usize, counts: &[u32]) -> String {
    let mut s = String::from("| true \\ predicted |");
    s += &(0..classes).map(|c| format!(" {c} |")).collect::<String>();
    s += "\n|---|";
    s += &"---:|".repeat(classes);
    for r in 0..classes {
        s += &format!("\n| **{r}** |");
        s += &counts[r * classes..(r + 1) * classes]
            .iter()
            .map(|v| format!(" {v} |"))
            .collect::<String>();
    }
    s
}
