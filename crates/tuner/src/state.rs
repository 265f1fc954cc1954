//! The search's saved state, `search_state.json` in its directory: the settings, the oracle
//! (with its progress), the space found so far and every trial. It is written atomically
//! (a temporary file, fsync, rename) when a trial starts and when it ends, so a search killed at
//! any moment restarts from the last finished trial and never runs a finished trial again.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TunerError};
use crate::oracle::Oracle;
use crate::space::Param;
use crate::trial::Trial;

/// The file's name inside the search directory.
pub const STATE_FILE: &str = "search_state.json";
const VERSION: u32 = 1;

/// Everything a resumed search needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct State {
    pub version: u32,
    /// The settings the search was started with (compared when it resumes).
    pub settings: String,
    pub oracle: Oracle,
    pub space: Vec<Param>,
    pub trials: Vec<Trial>,
}

impl State {
    pub(crate) fn new(settings: String, oracle: Oracle) -> Self {
        State {
            version: VERSION,
            settings,
            oracle,
            space: Vec::new(),
            trials: Vec::new(),
        }
    }

    /// Writes the state atomically.
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(STATE_FILE);
        let json = serde_json::to_vec_pretty(self).map_err(|e| TunerError::State {
            path: path.display().to_string(),
            message: format!("cannot serialize: {e}"),
        })?;
        kiln_nn::checkpoint::atomic_write(&path, &json)?;
        Ok(())
    }

    /// The saved state in `dir`, if there is one; an error when it is unreadable or was saved
    /// with other settings.
    pub(crate) fn load(dir: &Path, settings: &str) -> Result<Option<State>> {
        let path = dir.join(STATE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(crate::error::io(&path, "reading the search state", e)),
        };
        let bad = |message: String| TunerError::State {
            path: path.display().to_string(),
            message,
        };
        let state: State = serde_json::from_slice(&bytes).map_err(|e| {
            bad(format!(
                "not a kiln search state ({e}); delete it (and the trials beside it) or \
                 choose another directory"
            ))
        })?;
        if state.version != VERSION {
            return Err(bad(format!(
                "version {} is not {VERSION}; this kiln cannot resume it",
                state.version
            )));
        }
        if state.settings != settings {
            return Err(bad(format!(
                "the search there was started with {}; this one has {settings}. Resume it with \
                 the same settings, or pass overwrite(true) or another directory to start anew",
                state.settings
            )));
        }
        Ok(Some(state))
    }
}
