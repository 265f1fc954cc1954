"""The trial schedule of KerasTuner's real HyperbandOracle, for kiln's Hyperband test.

Usage: keras_tuner_hyperband.py MAX_EPOCHS FACTOR ITERATIONS FAIL_EVERY DIR
Runs the oracle with one worker: trial k scores ((k * 7919) % 101) / 101 (objective "score",
max) and fails when FAIL_EVERY > 0 and k % FAIL_EVERY == FAIL_EVERY - 1. Prints one JSON line
per trial: id, bracket, round, epochs, initial_epoch, parent (the "tuner/*" values), status.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras_tuner as kt  # noqa: E402

max_epochs, factor, iterations, fail_every = (int(a) for a in sys.argv[1:5])
directory = sys.argv[5]
oracle = kt.oracles.HyperbandOracle(
    objective=kt.Objective("score", "max"),
    max_epochs=max_epochs,
    factor=factor,
    hyperband_iterations=iterations,
    seed=1,
    max_consecutive_failed_trials=10**9,
)
oracle._set_project_dir(directory, "schedule")
hp = kt.HyperParameters()
hp.Float("x", 0.0, 1.0)
oracle.update_space(hp)
k = 0
while True:
    trial = oracle.create_trial("tuner0")
    if trial.status == "STOPPED":
        break
    v = trial.hyperparameters.values
    failed = fail_every > 0 and k % fail_every == fail_every - 1
    print(json.dumps({
        "id": trial.trial_id,
        "bracket": v["tuner/bracket"],
        "round": v["tuner/round"],
        "epochs": v["tuner/epochs"],
        "initial_epoch": v["tuner/initial_epoch"],
        "parent": v.get("tuner/trial_id"),
        "status": "FAILED" if failed else "COMPLETED",
    }))
    if failed:
        trial.status = "FAILED"
    else:
        oracle.update_trial(trial.trial_id, {"score": ((k * 7919) % 101) / 101})
        trial.status = "COMPLETED"
    oracle.end_trial(trial)
    k += 1
