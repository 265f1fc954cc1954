//! `EventWriter`: appends TensorBoard events to `events.out.tfevents.<secs>.<host>.<pid>.<n>` in
//! a log directory. Values are written the TF2 way (every summary a tensor with plugin metadata),
//! which TensorBoard shows in Scalars, Time Series, Histograms, Distributions, Images and Text.
//! Writes are buffered and flushed every `flush_interval`, on `flush()` and on drop; every flush
//! ends on a record boundary, so a killed process leaves a file TensorBoard reads up to the last
//! flush (at worst one truncated record, which it tolerates).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prost::Message;

use crate::error::{Result, SummaryError, io_err};
use crate::histogram::{DEFAULT_BUCKETS, buckets};
use crate::image::{Pixels, encode_png};
use crate::proto::{
    Event, PluginData, Summary, SummaryMetadata, TensorProto, TensorShapeProto, Value, dtype,
    event::What,
};
use crate::record::encode_record;

static FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Seconds since the epoch; replaceable for byte-exact golden files.
pub type Clock = Box<dyn FnMut() -> f64 + Send>;

fn system_clock() -> Clock {
    Box::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    })
}

fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "localhost".into()
    } else {
        clean
    }
}

/// One image for `add_images`.
#[derive(Clone, Copy, Debug)]
pub struct Image<'a> {
    /// Pixel data, HWC.
    pub pixels: Pixels<'a>,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
    /// Channels: 1, 3 or 4.
    pub channels: usize,
}

/// Writes one event file.
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
    clock: Clock,
    flush_interval: Duration,
    last_flush: Instant,
}

fn metadata(plugin: &str, data_class: i32) -> Option<SummaryMetadata> {
    Some(SummaryMetadata {
        plugin_data: Some(PluginData {
            plugin_name: plugin.into(),
            content: Vec::new(),
        }),
        data_class,
        ..Default::default()
    })
}

impl EventWriter {
    /// Creates `log_dir` (and parents) and a new event file in it.
    pub fn create(log_dir: impl AsRef<Path>) -> Result<Self> {
        Self::with_clock(log_dir, system_clock())
    }

    /// As `create`, with a custom clock (tests use a fixed one for byte-exact output).
    pub fn with_clock(log_dir: impl AsRef<Path>, mut clock: Clock) -> Result<Self> {
        let dir = log_dir.as_ref();
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let now = clock();
        let name = format!(
            "events.out.tfevents.{:010}.{}.{}.{}",
            now as u64,
            hostname(),
            std::process::id(),
            FILE_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = File::create(&path).map_err(io_err(&path))?;
        let mut w = EventWriter {
            path,
            out: BufWriter::new(file),
            clock,
            flush_interval: Duration::from_secs(2),
            last_flush: Instant::now(),
        };
        w.write_event(&Event {
            wall_time: now,
            step: 0,
            what: Some(What::FileVersion("brain.Event:2".into())),
        })?;
        w.flush()?;
        Ok(w)
    }

    /// Path of the event file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How often buffered events reach the file (default 2 s).
    pub fn set_flush_interval(&mut self, every: Duration) {
        self.flush_interval = every;
    }

    /// Appends an arbitrary event.
    pub fn write_event(&mut self, event: &Event) -> Result<()> {
        let rec = encode_record(&event.encode_to_vec());
        self.out.write_all(&rec).map_err(io_err(&self.path))?;
        if self.last_flush.elapsed() >= self.flush_interval {
            self.flush()?;
        }
        Ok(())
    }

    /// The writer's clock, in seconds since the epoch.
    pub fn now(&mut self) -> f64 {
        (self.clock)()
    }

    /// Appends one summary value at `step`.
    pub fn write_value(&mut self, value: Value, step: i64) -> Result<()> {
        let wall_time = self.now();
        self.write_event(&Event {
            wall_time,
            step,
            what: Some(What::Summary(Summary { value: vec![value] })),
        })
    }

    /// A scalar (Scalars and Time Series dashboards): a DT_FLOAT rank-0 tensor, plugin "scalars".
    pub fn add_scalar(&mut self, tag: &str, value: f32, step: i64) -> Result<()> {
        let tensor = TensorProto {
            dtype: dtype::FLOAT,
            tensor_shape: Some(TensorShapeProto::of(&[])),
            tensor_content: value.to_le_bytes().to_vec(),
            ..Default::default()
        };
        self.write_value(
            Value {
                tag: tag.into(),
                metadata: metadata("scalars", 1),
                tensor: Some(tensor),
                ..Default::default()
            },
            step,
        )
    }

    /// A histogram of `values` (Histograms and Distributions dashboards): a DT_DOUBLE [k, 3]
    /// tensor of (left edge, right edge, count) rows, 30 buckets as TF2 and Keras write.
    pub fn add_histogram(&mut self, tag: &str, values: &[f32], step: i64) -> Result<()> {
        let rows = buckets(values, DEFAULT_BUCKETS);
        let content: Vec<u8> = rows
            .iter()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let tensor = TensorProto {
            dtype: dtype::DOUBLE,
            tensor_shape: Some(TensorShapeProto::of(&[rows.len(), 3])),
            tensor_content: content,
            ..Default::default()
        };
        self.write_value(
            Value {
                tag: tag.into(),
                metadata: metadata("histograms", 2),
                tensor: Some(tensor),
                ..Default::default()
            },
            step,
        )
    }

    /// One image (Images dashboard).
    pub fn add_image(&mut self, tag: &str, image: Image<'_>, step: i64) -> Result<()> {
        self.add_images(tag, &[image], 1, step)
    }

    /// Up to `max_outputs` images of one size under one tag, as `tf.summary.image` writes them:
    /// a DT_STRING [2 + k] tensor of (width, height, PNG...), plugin "images".
    pub fn add_images(
        &mut self,
        tag: &str,
        images: &[Image<'_>],
        max_outputs: usize,
        step: i64,
    ) -> Result<()> {
        let Some(first) = images.first() else {
            return Err(SummaryError::Invalid {
                op: "add_images",
                message: format!("no images for tag {tag:?}"),
            });
        };
        let mut strings = vec![
            first.width.to_string().into_bytes(),
            first.height.to_string().into_bytes(),
        ];
        for im in images.iter().take(max_outputs.max(1)) {
            if (im.width, im.height) != (first.width, first.height) {
                return Err(SummaryError::Invalid {
                    op: "add_images",
                    message: format!(
                        "all images under {tag:?} must be {}x{}",
                        first.height, first.width
                    ),
                });
            }
            strings.push(encode_png(im.pixels, im.height, im.width, im.channels)?);
        }
        let tensor = TensorProto {
            dtype: dtype::STRING,
            tensor_shape: Some(TensorShapeProto::of(&[strings.len()])),
            string_val: strings,
            ..Default::default()
        };
        self.write_value(
            Value {
                tag: tag.into(),
                metadata: metadata("images", 3),
                tensor: Some(tensor),
                ..Default::default()
            },
            step,
        )
    }

    /// A float tensor of `shape` owned by `plugin` (a plugin TensorBoard does not know lists it
    /// under that name and shows nothing), with the plugin's `content` (e.g. a JSON header).
    pub fn add_tensor(
        &mut self,
        tag: &str,
        plugin: &str,
        content: &[u8],
        values: &[f32],
        shape: &[usize],
        step: i64,
    ) -> Result<()> {
        if shape.iter().product::<usize>() != values.len() {
            return Err(SummaryError::Invalid {
                op: "add_tensor",
                message: format!("{} values do not fill shape {shape:?}", values.len()),
            });
        }
        let tensor = TensorProto {
            dtype: dtype::FLOAT,
            tensor_shape: Some(TensorShapeProto::of(shape)),
            tensor_content: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        };
        let mut metadata = metadata(plugin, 2);
        if let Some(PluginData { content: c, .. }) =
            metadata.as_mut().and_then(|m| m.plugin_data.as_mut())
        {
            *c = content.to_vec();
        }
        self.write_value(
            Value {
                tag: tag.into(),
                metadata,
                tensor: Some(tensor),
                ..Default::default()
            },
            step,
        )
    }

    /// Markdown text (Text dashboard): a DT_STRING scalar tensor, plugin "text".
    pub fn add_text(&mut self, tag: &str, markdown: &str, step: i64) -> Result<()> {
        let tensor = TensorProto {
            dtype: dtype::STRING,
            tensor_shape: Some(TensorShapeProto::of(&[])),
            string_val: vec![markdown.as_bytes().to_vec()],
            ..Default::default()
        };
        self.write_value(
            Value {
                tag: tag.into(),
                metadata: metadata("text", 2),
                tensor: Some(tensor),
                ..Default::default()
            },
            step,
        )
    }

    /// Pushes buffered events to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.last_flush = Instant::now();
        self.out.flush().map_err(io_err(&self.path))
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        // Nothing to report to from a destructor; `flush()` is there for callers who care.
        let _ = self.out.flush();
    }
}
