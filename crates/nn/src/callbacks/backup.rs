//! `BackupAndRestore`: after every epoch the whole model (weights, optimizer state, epoch, RNG
//! state) is saved atomically to `<backup_dir>/backup.safetensors`; when the same training is
//! started again after a crash or `kill -9`, the backup is restored and `fit` continues after the
//! last completed epoch, exactly as the uninterrupted run would have. A run that finishes deletes
//! its backup. In a data-parallel fit every rank restores the same backup and rank 0 alone writes
//! and deletes it.

use std::path::PathBuf;

use crate::callbacks::{Callback, TrainInfo};
use crate::checkpoint::load_model;
use crate::error::Result;
use crate::logs::Logs;
use crate::model::Model;

/// Keras's `BackupAndRestore`.
pub struct BackupAndRestore {
    dir: PathBuf,
    /// The epoch count restored at the start of training, if a backup was found.
    pub restored_epochs: Option<usize>,
    /// Whether this process writes the backup (rank 0).
    writes: bool,
}

impl BackupAndRestore {
    /// Backs up into `backup_dir`.
    pub fn new(backup_dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: backup_dir.into(),
            restored_epochs: None,
            writes: true,
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join("backup.safetensors")
    }
}

impl Callback for BackupAndRestore {
    fn on_train_begin(&mut self, model: &mut Model, info: &TrainInfo<'_>) -> Result<()> {
        self.writes = info.rank == 0;
        let file = self.file();
        if file.exists() {
            let restored = load_model(&file, model.device())?;
            *model = restored;
            model.resume_epoch = Some(model.epochs_done());
            self.restored_epochs = Some(model.epochs_done());
            eprintln!(
                "BackupAndRestore: restored {} (training resumes after epoch {})",
                file.display(),
                model.epochs_done()
            );
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, _epoch: usize, _logs: &Logs, model: &mut Model) -> Result<bool> {
        if self.writes {
            model.save(self.file())?;
        }
        Ok(false)
    }

    fn on_train_end(&mut self, _logs: &Logs, _model: &Model) -> Result<()> {
        if self.writes {
            let _ = std::fs::remove_file(self.file());
        }
        Ok(())
    }
}
