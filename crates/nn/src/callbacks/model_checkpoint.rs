//! `ModelCheckpoint`: save the model (or its weights) after each epoch to a path formatted with
//! the epoch and logs (`ckpt-{epoch:02d}-{val_loss:.2f}.safetensors`), optionally only when the
//! monitored value improves. Saves are atomic.

use std::path::PathBuf;

use crate::callbacks::Callback;
use crate::callbacks::monitor::{Mode, Monitor};
use crate::error::{NnError, Result};
use crate::logs::Logs;
use crate::model::Model;

/// Keras's `ModelCheckpoint`.
pub struct ModelCheckpoint {
    filepath: String,
    monitor: Monitor,
    save_best_only: bool,
    save_weights_only: bool,
    /// Paths written so far.
    pub saved: Vec<PathBuf>,
}

impl ModelCheckpoint {
    /// Saves to `filepath` (with `{epoch}` / `{key}` placeholders) every epoch.
    pub fn new(filepath: &str) -> Self {
        Self {
            filepath: filepath.into(),
            monitor: Monitor::new("val_loss", Mode::Auto, 0.0),
            save_best_only: false,
            save_weights_only: false,
            saved: Vec::new(),
        }
    }
    /// Key watched for `save_best_only`.
    pub fn monitor(mut self, key: &str, mode: Mode) -> Self {
        self.monitor = Monitor::new(key, mode, 0.0);
        self
    }
    /// Save only when the monitored value improves.
    pub fn save_best_only(mut self, yes: bool) -> Self {
        self.save_best_only = yes;
        self
    }
    /// Save weights only (`save_weights`) instead of the whole model.
    pub fn save_weights_only(mut self, yes: bool) -> Self {
        self.save_weights_only = yes;
        self
    }
}

/// Fills `{epoch}`, `{epoch:02d}`, `{key}`, `{key:.4f}` from the 1-based epoch and the logs.
pub(crate) fn format_path(template: &str, epoch: usize, logs: &Logs) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').ok_or_else(|| {
            NnError::Config(format!("unclosed '{{' in checkpoint path {template:?}"))
        })? + open;
        let field = &rest[open + 1..close];
        let (name, spec) = field.split_once(':').unwrap_or((field, ""));
        let value = if name == "epoch" {
            epoch as f64
        } else {
            logs.get(name).ok_or_else(|| {
                NnError::Config(format!(
                    "checkpoint path {template:?} uses {{{name}}}, which is not in the logs"
                ))
            })? as f64
        };
        out += &match spec {
            s if s.ends_with('d') => format!(
                "{:0width$}",
                value as i64,
                width = s.trim_end_matches('d').parse().unwrap_or(0)
            ),
            s if s.starts_with('.') && s.ends_with('f') => format!(
                "{value:.prec$}",
                prec = s[1..s.len() - 1].parse().unwrap_or(4)
            ),
            _ if name == "epoch" => format!("{}", value as i64),
            _ => format!("{value}"),
        };
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Callback for ModelCheckpoint {
    fn root_only(&self) -> bool {
        true
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, model: &mut Model) -> Result<bool> {
        if self.save_best_only {
            let Some(current) = self.monitor.read(logs, "ModelCheckpoint") else {
                return Ok(false);
            };
            if !self.monitor.improved(current) {
                return Ok(false);
            }
        }
        let path = PathBuf::from(format_path(&self.filepath, epoch + 1, logs)?);
        if self.save_weights_only {
            model.save_weights(&path)?
        } else {
            model.save(&path)?
        }
        self.saved.push(path);
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_format_like_keras() {
        let logs = Logs {
            values: vec![("val_loss".into(), 0.34567)],
            confusion: None,
        };
        assert_eq!(
            format_path("ckpt-{epoch:02d}-{val_loss:.2f}.st", 3, &logs).unwrap(),
            "ckpt-03-0.35.st"
        );
        assert_eq!(format_path("m{epoch}.st", 12, &logs).unwrap(), "m12.st");
        assert!(format_path("m{nope}.st", 1, &logs).is_err());
    }
}
