//! The search loop with stand-in models (no GPU): a build function that only declares
//! hyperparameters and a "training" that scores a known function of them. Checks that trials
//! respect the space, that conditional parameters appear only when active, that a failing
//! trial is recorded and skipped, that state is saved and resumed, that the Bayesian oracle
//! beats random search on a smooth function, and what `results_summary` prints.

use std::path::PathBuf;

use kiln_nn::{History, Logs, NnError};
use kiln_tuner::*;

/// A stand-in model: `score(values)` is the logged "score" of its one epoch.
struct Fake<S: Fn(&HyperParameters) -> Option<f64>> {
    declare: fn(&mut HyperParameters),
    score: S,
    built: usize,
}

impl<S: Fn(&HyperParameters) -> Option<f64>> HyperModel for Fake<S> {
    type Built = ();
    fn build(&mut self, hp: &mut HyperParameters) -> kiln_nn::Result<()> {
        (self.declare)(hp);
        self.built += 1;
        Ok(())
    }
    fn fit(
        &mut self,
        _: (),
        hp: &HyperParameters,
        run: &RunContext<'_>,
    ) -> kiln_nn::Result<History> {
        assert!(run.dir.ends_with(format!("execution{}", run.execution)));
        let Some(s) = (self.score)(hp) else {
            return Err(NnError::Config(
                "this configuration runs out of memory".into(),
            ));
        };
        let mut logs = Logs::default();
        logs.set("loss", if s.is_nan() { f32::NAN } else { 1.0 - s as f32 });
        logs.set("score", s as f32);
        Ok(History {
            epochs: vec![run.trial.plan.initial_epoch],
            logs: vec![logs],
        })
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kiln_tuner_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn space(hp: &mut HyperParameters) {
    hp.int("units", 16, 128, 16);
    hp.float("lr", 1e-4, 1e-1, Sampling::Log);
    let kind = hp.choice("model", &["mlp", "cnn"]);
    hp.conditional_scope("model", &["cnn"], |hp| hp.int("filters", 8, 32, 8));
    let _ = kind;
    hp.boolean("dropout");
}

#[test]
fn random_trials_stay_in_the_space_and_conditionals_appear_only_when_active() {
    let dir = tmp("random");
    let mut search = Search::new(&dir, Oracle::random(40), Objective::max("score"))
        .seed(3)
        .verbose(false);
    let mut model = Fake {
        declare: space,
        score: |hp: &HyperParameters| hp.get("units").and_then(HpValue::as_f64).map(|u| u / 128.0),
        built: 0,
    };
    search.run(&mut model).unwrap();
    let trials = search.trials();
    assert_eq!(trials.len(), 40);
    let mut cnn = 0;
    for t in trials {
        assert_eq!(t.status, TrialStatus::Completed);
        let units = t.get("units").unwrap().as_i64().unwrap();
        assert!(units % 16 == 0 && (16..=128).contains(&units), "{units}");
        let lr = t.get("lr").unwrap().as_f64().unwrap();
        assert!((1e-4..=1e-1).contains(&lr), "{lr}");
        let is_cnn = t.get("model").unwrap().as_str() == Some("cnn");
        assert_eq!(t.get("filters").is_some(), is_cnn, "{:?}", t.values);
        cnn += is_cnn as usize;
        assert!(dir.join(t.dir_name()).join("execution0").is_dir());
    }
    assert!((8..=32).contains(&cnn), "{cnn} of 40 trials chose cnn");
    let keys: std::collections::HashSet<String> =
        trials.iter().map(|t| format!("{:?}", t.values)).collect();
    assert_eq!(keys.len(), 40, "no duplicate trials");
    // The space learned the conditional parameter with its condition.
    let filters = search.space().iter().find(|p| p.name == "filters").unwrap();
    assert_eq!(filters.conditions[0].parent, "model");
    let best = search.best_trials(1)[0];
    assert_eq!(
        best.score,
        trials.iter().filter_map(|t| t.score).reduce(f64::max)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failing_trial_is_recorded_and_the_search_goes_on() {
    let dir = tmp("failing");
    let mut search = Search::new(&dir, Oracle::random(12), Objective::max("score"))
        .seed(5)
        .verbose(false);
    let mut model = Fake {
        declare: |hp| {
            hp.int("units", 1, 12, 1);
        },
        // units 3: out of memory; units 5: the loss becomes NaN.
        score: |hp: &HyperParameters| match hp.get("units").and_then(HpValue::as_i64) {
            Some(3) => None,
            Some(5) => Some(f64::NAN),
            Some(u) => Some(u as f64),
            None => None,
        },
        built: 0,
    };
    search.run(&mut model).unwrap();
    let failed: Vec<&Trial> = search
        .trials()
        .iter()
        .filter(|t| t.status == TrialStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 2, "{:?}", search.trials());
    let messages: Vec<&str> = failed
        .iter()
        .map(|t| t.message.as_deref().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("out of memory")),
        "{messages:?}"
    );
    assert!(messages.iter().any(|m| m.contains("NaN")), "{messages:?}");
    assert_eq!(
        search.trials().len(),
        12,
        "failed trials count toward max_trials"
    );
    let summary = search.results_summary(3);
    assert!(
        summary.contains("Score: 12") && summary.contains("2 failed trial(s)"),
        "{summary}"
    );
    assert!(
        summary.contains("Objective(name=\"score\", direction=\"max\")"),
        "{summary}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn too_many_failures_in_a_row_stop_the_search_with_the_last_error() {
    let dir = tmp("allfail");
    let mut search = Search::new(&dir, Oracle::random(10), Objective::max("score")).verbose(false);
    let mut model = Fake {
        declare: |hp| {
            hp.int("units", 1, 100, 1);
        },
        score: |_: &HyperParameters| None,
        built: 0,
    };
    let e = search.run(&mut model).unwrap_err().to_string();
    assert!(
        e.contains("3 trials failed in a row") && e.contains("out of memory"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_objective_and_bad_declarations_stop_the_search_with_a_clear_error() {
    let dir = tmp("objective");
    let mut search =
        Search::new(&dir, Oracle::random(3), Objective::max("val_accuracy")).verbose(false);
    let mut model = Fake {
        declare: |hp| {
            hp.int("units", 1, 100, 1);
        },
        score: |_: &HyperParameters| Some(1.0),
        built: 0,
    };
    let e = search.run(&mut model).unwrap_err().to_string();
    assert!(
        e.contains("\"val_accuracy\"") && e.contains("validation"),
        "{e}"
    );
    let dir2 = tmp("declaration");
    let mut search = Search::new(&dir2, Oracle::random(3), Objective::max("score")).verbose(false);
    let mut model = Fake {
        declare: |hp| {
            hp.int("units", 10, 1, 1);
        },
        score: |_: &HyperParameters| Some(1.0),
        built: 0,
    };
    let e = search.run(&mut model).unwrap_err().to_string();
    assert!(e.contains("\"units\"") && e.contains("above max"), "{e}");
    for d in [dir, dir2] {
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn a_search_resumes_from_its_state_and_refuses_other_settings() {
    let dir = tmp("resume");
    let score = |hp: &HyperParameters| hp.get("lr").and_then(HpValue::as_f64);
    let mut full = Search::new(
        tmp("resume_full"),
        Oracle::random(6),
        Objective::max("score"),
    )
    .seed(9)
    .verbose(false);
    full.run(&mut Fake {
        declare: space,
        score,
        built: 0,
    })
    .unwrap();
    // Stop after 3 trials (a smaller max_trials is other settings, so edit the saved state as
    // a kill after trial 3 would leave it: 3 finished trials and the 4th running).
    let mut part = Search::new(&dir, Oracle::random(6), Objective::max("score"))
        .seed(9)
        .verbose(false);
    part.run(&mut Fake {
        declare: space,
        score,
        built: 0,
    })
    .unwrap();
    let state_path = dir.join(STATE_FILE);
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let trials = state["trials"].as_array_mut().unwrap();
    trials.truncate(4);
    trials[3]["status"] = "Running".into();
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    let mut model = Fake {
        declare: space,
        score,
        built: 0,
    };
    let mut resumed = Search::new(&dir, Oracle::random(6), Objective::max("score"))
        .seed(9)
        .verbose(false);
    resumed.run(&mut model).unwrap();
    assert_eq!(
        model.built, 3,
        "the running trial and the two new ones are built, nothing else"
    );
    assert_eq!(resumed.trials(), full.trials());
    let mut other = Search::new(&dir, Oracle::random(7), Objective::max("score")).seed(9);
    let e = other
        .run(&mut Fake {
            declare: space,
            score,
            built: 0,
        })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("max_trials: 6") && e.contains("overwrite(true)"),
        "{e}"
    );
    std::fs::write(&state_path, b"{ not json").unwrap();
    let e = resumed
        .run(&mut Fake {
            declare: space,
            score,
            built: 0,
        })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(STATE_FILE) && e.contains("not a kiln search state"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(full.directory());
}

/// Branin-like smooth function of two floats, best 1.0 at (0.3, 0.7).
fn bowl(hp: &HyperParameters) -> Option<f64> {
    let x = hp.get("x")?.as_f64()?;
    let y = hp.get("y")?.as_f64()?;
    Some(1.0 - (x - 0.3).powi(2) - (y - 0.7).powi(2))
}

#[test]
fn bayesian_optimisation_beats_random_search_on_a_smooth_function() {
    let declare = |hp: &mut HyperParameters| {
        hp.float("x", 0.0, 1.0, Sampling::Linear);
        hp.float("y", 0.0, 1.0, Sampling::Linear);
    };
    let (mut bayes_regret, mut random_regret) = (0.0, 0.0);
    for seed in 0..6 {
        for (oracle, regret) in [
            (Oracle::bayesian(20), &mut bayes_regret),
            (Oracle::random(20), &mut random_regret),
        ] {
            let dir = tmp(&format!("bo_{seed}"));
            let mut s = Search::new(&dir, oracle, Objective::max("score"))
                .seed(seed)
                .verbose(false);
            s.run(&mut Fake {
                declare,
                score: bowl,
                built: 0,
            })
            .unwrap();
            *regret += 1.0 - s.best_trials(1)[0].score.unwrap();
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    eprintln!("regret summed over 6 seeds: bayesian {bayes_regret:.5}, random {random_regret:.5}");
    // Measured: the Gaussian process's mean regret is a fraction of random search's.
    assert!(
        bayes_regret < 0.5 * random_regret,
        "bayesian regret {bayes_regret:.5} vs random {random_regret:.5} (sum over 6 seeds)"
    );
}

/// Scores each execution by its seed, so the trial's score must be the executions' mean.
struct BySeed;

impl HyperModel for BySeed {
    type Built = u64;
    fn build(&mut self, hp: &mut HyperParameters) -> kiln_nn::Result<u64> {
        hp.int("units", 1, 1000, 1);
        Ok(hp.execution_seed())
    }
    fn fit(
        &mut self,
        seed: u64,
        _: &HyperParameters,
        run: &RunContext<'_>,
    ) -> kiln_nn::Result<History> {
        assert_eq!(seed, run.seed, "each execution is built with its own seed");
        std::fs::write(&run.checkpoint, b"weights").unwrap();
        let mut logs = Logs::default();
        logs.set("score", (seed % 1000) as f32);
        Ok(History {
            epochs: vec![0],
            logs: vec![logs],
        })
    }
}

#[test]
fn executions_per_trial_average_and_keep_the_best_executions_weights() {
    let dir = tmp("executions");
    let mut s = Search::new(&dir, Oracle::random(3), Objective::max("score"))
        .executions_per_trial(3)
        .verbose(false);
    s.run(&mut BySeed).unwrap();
    for t in s.trials() {
        let scores: Vec<f64> = t.execution_scores.iter().map(|v| v.unwrap()).collect();
        assert_eq!(scores.len(), 3);
        assert!(
            scores[0] != scores[1] || scores[1] != scores[2],
            "distinct seeds: {scores:?}"
        );
        let mean = scores.iter().sum::<f64>() / 3.0;
        assert!((t.score.unwrap() - mean).abs() < 1e-9);
        let best = t.best_execution.unwrap();
        assert_eq!(
            scores[best],
            scores.iter().cloned().fold(f64::MIN, f64::max)
        );
        for k in 0..3 {
            assert!(
                dir.join(t.dir_name())
                    .join(format!("execution{k}"))
                    .is_dir()
            );
        }
        assert!(
            s.checkpoint(t).is_some(),
            "the best execution's weights are kept"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
