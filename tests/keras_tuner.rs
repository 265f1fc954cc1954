//! kiln's Hyperband against KerasTuner's real `HyperbandOracle` (keras-tuner 1.4.8 in the Keras
//! venv): for the same max_epochs, factor and iterations, with trial k scoring
//! ((k * 7919) % 101) / 101 and (in one case) every fourth trial failing, both run the same
//! trials in the same order: the same bracket, round, epochs, initial epoch and promoted parent.
//! The script is scripts/keras_tuner_hyperband.py. Stand-in models, no GPU.

mod common;

use std::process::Command;

use kiln::nn::{History, Logs, NnError};
use kiln::tuner::*;

/// Trial k scores a fixed pseudo-random number of k; fails when `fail_every` says so.
struct ByIndex {
    fail_every: usize,
}

impl HyperModel for ByIndex {
    type Built = ();
    fn build(&mut self, hp: &mut HyperParameters) -> kiln::nn::Result<()> {
        hp.float("x", 0.0, 1.0, Sampling::Linear);
        Ok(())
    }
    fn fit(
        &mut self,
        _: (),
        _: &HyperParameters,
        run: &RunContext<'_>,
    ) -> kiln::nn::Result<History> {
        let k: usize = run.trial.id.parse().expect("numeric trial ids");
        if self.fail_every > 0 && k % self.fail_every == self.fail_every - 1 {
            return Err(NnError::Config("planned failure".into()));
        }
        let mut logs = Logs::default();
        logs.set("score", ((k * 7919) % 101) as f32 / 101.0);
        Ok(History {
            epochs: vec![0],
            logs: vec![logs],
        })
    }
}

/// kiln's schedule as KerasTuner's script prints it.
fn kiln_schedule(
    max_epochs: usize,
    factor: usize,
    iterations: usize,
    fail_every: usize,
) -> Vec<serde_json::Value> {
    let dir = std::env::temp_dir().join(format!(
        "kiln_hb_{max_epochs}_{factor}_{iterations}_{fail_every}_{}",
        std::process::id()
    ));
    let oracle = Oracle::Hyperband(Hyperband::new(max_epochs, factor, iterations));
    let mut search = Search::new(&dir, oracle, Objective::max("score"))
        .overwrite(true)
        .verbose(false)
        .max_consecutive_failed_trials(0);
    search.run(&mut ByIndex { fail_every }).unwrap();
    let out = search
        .trials()
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.id,
                "bracket": t.plan.bracket,
                "round": t.plan.round,
                "epochs": t.plan.epochs,
                "initial_epoch": t.plan.initial_epoch,
                "parent": t.plan.parent,
                "status": if t.status == TrialStatus::Completed { "COMPLETED" } else { "FAILED" },
            })
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

const CASES: [(usize, usize, usize, usize); 3] = [(27, 3, 1, 0), (10, 3, 2, 4), (9, 2, 1, 0)];

#[test]
fn hyperband_runs_the_trials_keras_tuner_runs() {
    // Figures from KerasTuner 1.4.8's oracle, so the schedule is checked without Python too.
    let known = [(70, "0022"), (48, "0002"), (46, "0007")];
    for (&(e, f, i, fail), (count, first_parent)) in CASES.iter().zip(known) {
        let ours = kiln_schedule(e, f, i, fail);
        assert_eq!(ours.len(), count, "max_epochs {e}, factor {f}: trial count");
        let promoted = ours.iter().find(|t| !t["parent"].is_null()).unwrap();
        assert_eq!(
            promoted["parent"], first_parent,
            "max_epochs {e}, factor {f}"
        );
    }
    let Some(python) = common::keras_python("keras_tuner", "the KerasTuner schedule check") else {
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/keras_tuner_hyperband.py"
    );
    for (e, f, i, fail) in CASES {
        let dir =
            std::env::temp_dir().join(format!("kt_hb_{e}_{f}_{i}_{fail}_{}", std::process::id()));
        let out = Command::new(&python)
            .arg(script)
            .args([e, f, i, fail].map(|v| v.to_string()))
            .arg(&dir)
            .output()
            .expect("running the KerasTuner script");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let ours = kiln_schedule(e, f, i, fail);
        assert_eq!(
            ours.len(),
            theirs.len(),
            "max_epochs {e}, factor {f}, iterations {i}"
        );
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(
                a, b,
                "max_epochs {e}, factor {f}, iterations {i}, fail every {fail}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
