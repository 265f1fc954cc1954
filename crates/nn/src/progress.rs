//! Keras-style console output for `fit`: with verbose = 1 a live bar (indicatif) showing
//! step / total, ETA and the running metrics, refreshed a few times a second (each refresh is
//! one metrics readback); then, for verbose 1 and 2, one closing line per epoch:
//! `1875/1875 - 4s 2ms/step - accuracy: 0.8210 - loss: 0.5070 - val_accuracy: ...`.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::logs::Logs;

/// How often the bar re-reads the metrics.
const REFRESH: Duration = Duration::from_millis(250);

pub(crate) struct Progress {
    verbose: u8,
    bar: Option<ProgressBar>,
    last: Instant,
}

impl Progress {
    /// `steps` is `None` for a dataset of unknown length (the bar then counts steps, as
    /// Keras's shows `Unknown` in the first epoch).
    pub fn new(verbose: u8, epoch: usize, epochs: usize, steps: Option<usize>) -> Self {
        if verbose >= 1 {
            println!("Epoch {}/{epochs}", epoch + 1);
        }
        let bar = (verbose == 1).then(|| {
            let b = ProgressBar::with_draw_target(
                steps.map(|s| s as u64),
                ProgressDrawTarget::stderr_with_hz(4),
            );
            let template = match steps {
                Some(_) => "{pos}/{len} {bar:20} ETA {eta} - {msg}",
                None => "{pos}/Unknown {spinner} - {msg}",
            };
            b.set_style(
                ProgressStyle::with_template(template)
                    .expect("static template")
                    .progress_chars("━━ "),
            );
            b
        });
        Self {
            verbose,
            bar,
            last: Instant::now(),
        }
    }

    /// Whether the live bar wants fresh metrics now.
    pub fn due(&self) -> bool {
        self.bar.as_ref().is_some_and(|b| !b.is_hidden()) && self.last.elapsed() >= REFRESH
    }

    /// Moves the bar (no readback).
    pub fn tick(&self, step: usize) {
        if let Some(b) = &self.bar {
            b.set_position(step as u64);
        }
    }

    pub fn update(&mut self, step: usize, logs: &Logs) {
        if let Some(b) = &self.bar {
            b.set_position(step as u64);
            b.set_message(logs.format());
        }
        self.last = Instant::now();
    }

    /// The closing line, with the steps the epoch ran.
    pub fn finish(&mut self, steps: usize, logs: &Logs, elapsed: Duration, per_step: Duration) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        if self.verbose >= 1 {
            let per = if per_step >= Duration::from_secs(1) {
                format!("{:.1}s/step", per_step.as_secs_f64())
            } else {
                format!("{}ms/step", per_step.as_millis())
            };
            println!(
                "{0}/{0} - {1:.0}s {per} - {2}",
                steps,
                elapsed.as_secs_f64(),
                logs.format()
            );
        }
    }
}
