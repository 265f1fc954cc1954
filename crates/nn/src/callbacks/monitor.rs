//! The "monitor a log key, in a mode, with a minimum delta" logic shared by EarlyStopping,
//! ModelCheckpoint and ReduceLROnPlateau (Keras's semantics: "auto" means max for accuracy-like
//! keys, min otherwise).

/// Whether larger or smaller is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Max for keys containing "acc" (or "auc"), min otherwise.
    Auto,
    /// Smaller is better.
    Min,
    /// Larger is better.
    Max,
}

#[derive(Clone, Debug)]
pub(crate) struct Monitor {
    pub key: String,
    pub maximize: bool,
    pub min_delta: f32,
    pub best: Option<f32>,
}

impl Monitor {
    pub fn new(key: &str, mode: Mode, min_delta: f32) -> Self {
        let maximize = match mode {
            Mode::Max => true,
            Mode::Min => false,
            Mode::Auto => key.contains("acc") || key.contains("auc"),
        };
        Self {
            key: key.into(),
            maximize,
            min_delta: min_delta.abs(),
            best: None,
        }
    }

    /// Whether `current` beats the best by more than `min_delta` (the first value always does);
    /// records it as the new best when it does.
    pub fn improved(&mut self, current: f32) -> bool {
        let better = match self.best {
            None => !current.is_nan(),
            Some(b) if self.maximize => current - self.min_delta > b,
            Some(b) => current + self.min_delta < b,
        };
        if better {
            self.best = Some(current);
        }
        better
    }

    /// The monitored value in `logs`, warning (as Keras does) when it is absent.
    pub fn read(&self, logs: &crate::logs::Logs, who: &str) -> Option<f32> {
        let v = logs.get(&self.key);
        if v.is_none() {
            let have: Vec<&str> = logs.values.iter().map(|(k, _)| k.as_str()).collect();
            eprintln!(
                "{who}: metric {:?} is not in the logs (available: {have:?}); skipping",
                self.key
            );
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_mode_and_min_delta_follow_keras() {
        let mut m = Monitor::new("val_loss", Mode::Auto, 0.1);
        assert!(m.improved(1.0));
        assert!(!m.improved(0.95), "within min_delta");
        assert!(m.improved(0.85));
        let mut a = Monitor::new("val_accuracy", Mode::Auto, 0.0);
        assert!(a.improved(0.5) && a.improved(0.6) && !a.improved(0.6));
    }
}
