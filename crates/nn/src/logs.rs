//! `Logs` (what one epoch or log point measured, in Keras's key order) and `History`.

/// Named values at a log point: "loss", metric names, "val_*", "learning_rate".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logs {
    /// (key, value) in insertion order.
    pub values: Vec<(String, f32)>,
    /// Validation confusion matrix (classes, counts[label * classes + predicted]), when a
    /// callback asked for it.
    pub confusion: Option<(usize, Vec<u32>)>,
}

impl Logs {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<f32> {
        self.values.iter().find(|(k, _)| k == key).map(|&(_, v)| v)
    }

    /// Sets (or replaces) `key`.
    pub fn set(&mut self, key: &str, value: f32) {
        match self.values.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.values.push((key.into(), value)),
        }
    }

    /// "loss: 0.4123 - accuracy: 0.8512" as Keras prints it.
    pub fn format(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("{k}: {v:.4}"))
            .collect::<Vec<_>>()
            .join(" - ")
    }
}

/// Per-epoch logs of a `fit`, as Keras's `History.history`.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// 0-based epoch numbers that ran.
    pub epochs: Vec<usize>,
    /// Their logs.
    pub logs: Vec<Logs>,
}

impl History {
    /// The series of `key` over the epochs (`history["loss"]`).
    pub fn get(&self, key: &str) -> Vec<f32> {
        self.logs.iter().filter_map(|l| l.get(key)).collect()
    }

    /// Keys logged in the last epoch.
    pub fn keys(&self) -> Vec<String> {
        self.logs
            .last()
            .map(|l| l.values.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default()
    }
}
