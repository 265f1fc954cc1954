//! Where a step's time goes: per-kernel GPU time from timestamp queries, the GPU time between
//! them, and host time between submits. `Device::start_profile` turns it on: each dispatch then
//! gets its own compute pass with a timestamp written at its start and end (wgpu's pass
//! timestamps, which every adapter with `TIMESTAMP_QUERY` supports, lavapipe included), the
//! queries are resolved at the end of the submit's encoder, and the submit waits for them. So a
//! profiled run is slower than an unprofiled one (one pass per dispatch, one wait per submit)
//! and shows each kernel's own time; the unprofiled step keeps its one submit and no wait.
//! The time from one timed pass's end to the next one's start is what the encoder held between
//! them: copies into staging textures (on CPU adapters, run by the driver's queue thread while
//! the compute threads wait), buffer copies, clears, or nothing but the pass change and its
//! barrier. It is summed per kind in `Profile::between` (work before a submit's first dispatch
//! or after its last is not timed). Without timestamp queries the profile holds the host-side
//! spans only: time in `submit` and between submits.
//! `Device::profile` reads the totals, `Device::stop_profile` turns it off.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::lock::lock;

/// One kernel's share of a profile.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    /// Its entry point.
    pub name: &'static str,
    /// Dispatches timed.
    pub dispatches: u64,
    /// GPU time, summed.
    pub total: Duration,
}

/// What a profile measured since it started (or was last taken).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    /// Per kernel, most time first (empty without timestamp queries).
    pub kernels: Vec<KernelTime>,
    /// GPU time between consecutive timed dispatches, per kind of work the encoder held there
    /// (`name`: "staging copies", "clears", "pass changes", ...; `dispatches`: gaps counted),
    /// most time first (empty without timestamp queries).
    pub between: Vec<KernelTime>,
    /// Submits profiled.
    pub submits: u64,
    /// Dispatches profiled.
    pub dispatches: u64,
    /// Host time inside `submit` (encoding, submitting, waiting for the timestamps).
    pub host_in_submit: Duration,
    /// Host time between submits (recording, host work of the caller).
    pub host_between_submits: Duration,
    /// Whether kernel times come from GPU timestamps.
    pub timestamps: bool,
}

impl Profile {
    /// GPU time of all kernels.
    pub fn gpu_total(&self) -> Duration {
        self.kernels.iter().map(|k| k.total).sum()
    }

    /// GPU time between timed dispatches (copies, clears, pass changes).
    pub fn between_total(&self) -> Duration {
        self.between.iter().map(|k| k.total).sum()
    }

    /// A table: kernel, dispatches, total and mean time, share of the GPU total; then the host
    /// spans (per submit).
    pub fn table(&self) -> String {
        let gpu = self.gpu_total().as_secs_f64().max(1e-12);
        let mut s = format!(
            "{:<34} {:>10} {:>11} {:>10} {:>7}\n",
            "kernel", "dispatches", "total ms", "mean us", "share"
        );
        for k in &self.kernels {
            let t = k.total.as_secs_f64();
            s += &format!(
                "{:<34} {:>10} {:>11.3} {:>10.1} {:>6.1}%\n",
                k.name,
                k.dispatches,
                t * 1e3,
                t * 1e6 / k.dispatches.max(1) as f64,
                100.0 * t / gpu
            );
        }
        for k in &self.between {
            let t = k.total.as_secs_f64();
            s += &format!(
                "{:<34} {:>10} {:>11.3} {:>10.1}\n",
                format!("(between passes: {})", k.name),
                k.dispatches,
                t * 1e3,
                t * 1e6 / k.dispatches.max(1) as f64,
            );
        }
        let per = |d: Duration| d.as_secs_f64() * 1e3 / self.submits.max(1) as f64;
        s += &format!(
            "{} submits, {} dispatches; per submit: GPU {:.3} ms in kernels + {:.3} ms between \
             them, host in submit {:.3} ms, host between submits {:.3} ms{}\n",
            self.submits,
            self.dispatches,
            per(self.gpu_total()),
            per(self.between_total()),
            per(self.host_in_submit),
            per(self.host_between_submits),
            if self.timestamps {
                ""
            } else {
                " (no timestamp queries: host spans only)"
            }
        );
        s
    }
}

/// What the encoder holds between two timed dispatches (the kinds of commands recorded there).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Between {
    pub staging_copies: bool,
    pub buffer_copies: bool,
    pub clears: bool,
}

impl Between {
    /// These kinds, leaving none behind.
    pub fn take(&mut self) -> Between {
        std::mem::take(self)
    }

    /// The profile's name for a gap holding these kinds.
    fn name(self) -> &'static str {
        match (self.staging_copies, self.buffer_copies, self.clears) {
            (false, false, false) => "pass changes",
            (true, false, false) => "staging copies",
            (false, true, false) => "buffer copies",
            (false, false, true) => "clears",
            (true, true, false) => "staging and buffer copies",
            (true, false, true) => "staging copies and clears",
            (false, true, true) => "buffer copies and clears",
            (true, true, true) => "staging and buffer copies and clears",
        }
    }
}

/// Per name: (count, time).
type Totals = HashMap<&'static str, (u64, Duration)>;

#[derive(Default)]
struct State {
    on: bool,
    kernels: Totals,
    gaps: Totals,
    submits: u64,
    dispatches: u64,
    in_submit: Duration,
    host_between: Duration,
    last_submit_end: Option<Instant>,
}

/// The device's profiler (off by default).
pub(crate) struct Profiler {
    state: Mutex<State>,
    /// Nanoseconds per timestamp tick, when the device has timestamp queries.
    pub period_ns: Option<f32>,
}

impl Profiler {
    pub fn new(period_ns: Option<f32>) -> Self {
        Profiler {
            state: Mutex::new(State::default()),
            period_ns,
        }
    }

    pub fn set(&self, on: bool) {
        let mut s = lock(&self.state);
        *s = State {
            on,
            ..State::default()
        };
    }

    pub fn on(&self) -> bool {
        lock(&self.state).on
    }

    /// A submit began: the host time since the previous one ended.
    pub fn submit_started(&self) -> Instant {
        let now = Instant::now();
        let mut s = lock(&self.state);
        if let Some(end) = s.last_submit_end {
            s.host_between += now - end;
        }
        now
    }

    /// A submit of `names` (one per dispatch, in order) ended; `gaps[i]` is what the encoder
    /// held before dispatch `i`; `ticks` are the dispatches' begin / end timestamps when the
    /// device has them.
    pub fn submit_ended(
        &self,
        started: Instant,
        names: &[&'static str],
        gaps: &[Between],
        ticks: Option<&[u64]>,
    ) {
        let mut s = lock(&self.state);
        let now = Instant::now();
        s.in_submit += now - started;
        s.last_submit_end = Some(now);
        s.submits += 1;
        s.dispatches += names.len() as u64;
        let (Some(ticks), Some(period)) = (ticks, self.period_ns) else {
            return;
        };
        let span = |from: u64, to: u64| {
            Duration::from_nanos((to.saturating_sub(from) as f64 * period as f64) as u64)
        };
        let add = |totals: &mut Totals, name, t| {
            let e = totals.entry(name).or_default();
            e.0 += 1;
            e.1 += t;
        };
        for (i, (name, pair)) in names.iter().zip(ticks.chunks_exact(2)).enumerate() {
            add(&mut s.kernels, name, span(pair[0], pair[1]));
            // From the previous dispatch's end to this one's start.
            if let (true, Some(gap)) = (i > 0, gaps.get(i)) {
                add(&mut s.gaps, gap.name(), span(ticks[2 * i - 1], pair[0]));
            }
        }
    }

    /// The totals so far; `reset` starts them again.
    pub fn take(&self, reset: bool) -> Profile {
        let mut s = lock(&self.state);
        let sorted = |totals: &Totals| {
            let mut v: Vec<KernelTime> = totals
                .iter()
                .map(|(name, (n, t))| KernelTime {
                    name,
                    dispatches: *n,
                    total: *t,
                })
                .collect();
            v.sort_by(|a, b| b.total.cmp(&a.total).then(a.name.cmp(b.name)));
            v
        };
        let p = Profile {
            kernels: sorted(&s.kernels),
            between: sorted(&s.gaps),
            submits: s.submits,
            dispatches: s.dispatches,
            host_in_submit: s.in_submit,
            host_between_submits: s.host_between,
            timestamps: self.period_ns.is_some(),
        };
        if reset {
            let on = s.on;
            *s = State {
                on,
                ..State::default()
            };
        }
        p
    }
}
