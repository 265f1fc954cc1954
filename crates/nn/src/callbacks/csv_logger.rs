//! `CsvLogger`: one CSV row per epoch (`epoch` then the log keys in sorted order, as Keras's
//! CSVLogger), flushed every epoch so a killed run keeps every finished epoch.

use std::io::Write;
use std::path::PathBuf;

use crate::callbacks::{Callback, TrainInfo};
use crate::error::{NnError, Result};
use crate::logs::Logs;
use crate::model::Model;

/// Keras's `CSVLogger`.
pub struct CsvLogger {
    path: PathBuf,
    append: bool,
    keys: Option<Vec<String>>,
    file: Option<std::fs::File>,
}

impl CsvLogger {
    /// Writes to `path`, replacing it.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            append: false,
            keys: None,
            file: None,
        }
    }

    /// Appends instead (for resumed runs); the header is written only to an empty file.
    pub fn append(mut self, yes: bool) -> Self {
        self.append = yes;
        self
    }

    fn io(&self, e: std::io::Error) -> NnError {
        NnError::Data {
            path: self.path.display().to_string(),
            message: e.to_string(),
        }
    }
}

impl Callback for CsvLogger {
    fn root_only(&self) -> bool {
        true
    }

    fn on_train_begin(&mut self, _model: &mut Model, _info: &TrainInfo<'_>) -> Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(self.append)
            .truncate(!self.append)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        if self.append {
            // Keep the existing column order when appending.
            let existing = std::fs::read_to_string(&self.path).unwrap_or_default();
            self.keys = existing
                .lines()
                .next()
                .map(|h| h.split(',').skip(1).map(str::to_string).collect());
        }
        self.file = Some(file);
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, _model: &mut Model) -> Result<bool> {
        let mut line = String::new();
        if self.keys.is_none() {
            let mut keys: Vec<String> = logs.values.iter().map(|(k, _)| k.clone()).collect();
            keys.sort();
            line = format!("epoch,{}\n", keys.join(","));
            self.keys = Some(keys);
        }
        let keys = self.keys.as_ref().expect("set above");
        line += &epoch.to_string();
        for k in keys {
            line += &logs.get(k).map_or(",NA".to_string(), |v| format!(",{v}"));
        }
        line.push('\n');
        let file = self.file.as_mut().expect("opened in on_train_begin");
        let res = file.write_all(line.as_bytes()).and_then(|_| file.flush());
        res.map_err(|e| self.io(e))?;
        Ok(false)
    }
}
