//! The protobuf messages of an event file, hand-written with `prost` derives (no protoc on these
//! machines, so no prost-build). Field numbers are copied from TensorBoard's vendored protos:
//! tensorboard/compat/proto/event.proto (Event), summary.proto (Summary, Summary.Value,
//! SummaryMetadata, HistogramProto), tensor.proto (TensorProto), tensor_shape.proto
//! (TensorShapeProto), types.proto (DataType). Only the fields kiln writes or reads are declared;
//! prost skips unknown fields when decoding.

/// `tensorboard.Event`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// Global step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// Payload.
    #[prost(oneof = "event::What", tags = "3, 4, 5")]
    pub what: Option<event::What>,
}

/// `Event.what`.
pub mod event {
    /// The event's payload.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum What {
        /// "brain.Event:2" in the first record of a file.
        #[prost(string, tag = "3")]
        FileVersion(String),
        /// A serialized `GraphDef`.
        #[prost(bytes, tag = "4")]
        GraphDef(Vec<u8>),
        /// Summaries.
        #[prost(message, tag = "5")]
        Summary(super::Summary),
    }
}

/// `tensorboard.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// Values, one per tag.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<Value>,
}

/// `tensorboard.Summary.Value`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// Tag shown by TensorBoard.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// Plugin metadata.
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
    /// Legacy scalar form.
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
    /// Legacy histogram form.
    #[prost(message, optional, tag = "5")]
    pub histo: Option<HistogramProto>,
    /// TF2 form: every summary is a tensor.
    #[prost(message, optional, tag = "8")]
    pub tensor: Option<TensorProto>,
}

/// `tensorboard.SummaryMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryMetadata {
    /// Which plugin owns the value.
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
    /// Display name.
    #[prost(string, tag = "2")]
    pub display_name: String,
    /// Markdown description.
    #[prost(string, tag = "3")]
    pub summary_description: String,
    /// DataClass: 0 unknown, 1 scalar, 2 tensor, 3 blob sequence.
    #[prost(int32, tag = "4")]
    pub data_class: i32,
}

/// `tensorboard.SummaryMetadata.PluginData`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PluginData {
    /// "scalars", "histograms", "images", "text", "hparams", ...
    #[prost(string, tag = "1")]
    pub plugin_name: String,
    /// Plugin-specific serialized content.
    #[prost(bytes = "vec", tag = "2")]
    pub content: Vec<u8>,
}

/// `tensorboard.HistogramProto` (legacy histograms).
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistogramProto {
    /// Minimum value.
    #[prost(double, tag = "1")]
    pub min: f64,
    /// Maximum value.
    #[prost(double, tag = "2")]
    pub max: f64,
    /// Number of values.
    #[prost(double, tag = "3")]
    pub num: f64,
    /// Sum of values.
    #[prost(double, tag = "4")]
    pub sum: f64,
    /// Sum of squares.
    #[prost(double, tag = "5")]
    pub sum_squares: f64,
    /// Right edges of the buckets.
    #[prost(double, repeated, tag = "6")]
    pub bucket_limit: Vec<f64>,
    /// Counts per bucket.
    #[prost(double, repeated, tag = "7")]
    pub bucket: Vec<f64>,
}

/// DataType codes from types.proto.
pub mod dtype {
    /// DT_FLOAT
    pub const FLOAT: i32 = 1;
    /// DT_DOUBLE
    pub const DOUBLE: i32 = 2;
    /// DT_STRING
    pub const STRING: i32 = 7;
}

/// `tensorboard.TensorProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// Element type (see `dtype`).
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    /// Shape.
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShapeProto>,
    /// Raw little-endian element bytes (numeric types).
    #[prost(bytes = "vec", tag = "4")]
    pub tensor_content: Vec<u8>,
    /// DT_FLOAT values (alternative to tensor_content).
    #[prost(float, repeated, tag = "5")]
    pub float_val: Vec<f32>,
    /// DT_DOUBLE values.
    #[prost(double, repeated, tag = "6")]
    pub double_val: Vec<f64>,
    /// DT_STRING values.
    #[prost(bytes = "vec", repeated, tag = "8")]
    pub string_val: Vec<Vec<u8>>,
}

/// `tensorboard.TensorShapeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    /// Dimensions, outermost first.
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<Dim>,
}

/// `tensorboard.TensorShapeProto.Dim`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dim {
    /// Size of the dimension.
    #[prost(int64, tag = "1")]
    pub size: i64,
}

impl TensorShapeProto {
    /// A shape from sizes.
    pub fn of(dims: &[usize]) -> Self {
        Self {
            dim: dims.iter().map(|&d| Dim { size: d as i64 }).collect(),
        }
    }
}
