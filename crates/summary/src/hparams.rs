//! Hyperparameters for TensorBoard's HParams tab: the hparams plugin's session start / end
//! records (one session per run) and an optional experiment config listing the hparams and
//! metrics. Each is a summary value under the plugin's tag whose metadata content is a
//! serialized `HParamsPluginData` and whose tensor is the plugin's null tensor (DT_FLOAT, shape
//! [0]), as TensorBoard's own `hparams` summary writes. Field numbers from
//! tensorboard/plugins/hparams/plugin_data.proto and api.proto, and google/protobuf/struct.proto.

use std::collections::BTreeMap;

use prost::Message;

use crate::error::Result;
use crate::proto::{PluginData, SummaryMetadata, TensorProto, TensorShapeProto, Value, dtype};
use crate::writer::EventWriter;

/// `tensorboard.hparams.HParamsPluginData`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamsPluginData {
    /// Plugin data version (0).
    #[prost(int32, tag = "1")]
    pub version: i32,
    /// One of experiment, session start, session end.
    #[prost(oneof = "plugin_data::Data", tags = "2, 3, 4")]
    pub data: Option<plugin_data::Data>,
}

/// `HParamsPluginData.data`.
pub mod plugin_data {
    /// The payload.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Data {
        /// Experiment config.
        #[prost(message, tag = "2")]
        Experiment(super::Experiment),
        /// A session (run) started with these hparams.
        #[prost(message, tag = "3")]
        SessionStartInfo(super::SessionStartInfo),
        /// A session ended.
        #[prost(message, tag = "4")]
        SessionEndInfo(super::SessionEndInfo),
    }
}

/// `tensorboard.hparams.SessionStartInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionStartInfo {
    /// Hyperparameter values.
    #[prost(btree_map = "string, message", tag = "1")]
    pub hparams: BTreeMap<String, ProtoValue>,
    /// Group name (sessions of one group are repeats).
    #[prost(string, tag = "4")]
    pub group_name: String,
    /// Start time, seconds since the epoch.
    #[prost(double, tag = "5")]
    pub start_time_secs: f64,
}

/// `tensorboard.hparams.SessionEndInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionEndInfo {
    /// Status: 1 success, 2 failure, 3 running.
    #[prost(int32, tag = "1")]
    pub status: i32,
    /// End time, seconds since the epoch.
    #[prost(double, tag = "2")]
    pub end_time_secs: f64,
}

/// `tensorboard.hparams.Experiment`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Experiment {
    /// Hyperparameters.
    #[prost(message, repeated, tag = "4")]
    pub hparam_infos: Vec<HParamInfo>,
    /// Metrics.
    #[prost(message, repeated, tag = "5")]
    pub metric_infos: Vec<MetricInfo>,
    /// Creation time.
    #[prost(double, tag = "3")]
    pub time_created_secs: f64,
}

/// `tensorboard.hparams.HParamInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamInfo {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// DataType: 1 string, 2 bool, 3 float64.
    #[prost(int32, tag = "4")]
    pub r#type: i32,
}

/// `tensorboard.hparams.MetricInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricInfo {
    /// Which scalar.
    #[prost(message, optional, tag = "1")]
    pub name: Option<MetricName>,
}

/// `tensorboard.hparams.MetricName`: the scalar `tag` in run `group` (relative to the session).
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricName {
    /// Sub-run, e.g. "validation".
    #[prost(string, tag = "1")]
    pub group: String,
    /// Scalar tag, e.g. "epoch_accuracy".
    #[prost(string, tag = "2")]
    pub tag: String,
}

/// `google.protobuf.Value` (the kinds hparams use).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoValue {
    /// The value.
    #[prost(oneof = "proto_value::Kind", tags = "2, 3, 4")]
    pub kind: Option<proto_value::Kind>,
}

/// `google.protobuf.Value.kind`.
pub mod proto_value {
    /// A value.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// Number.
        #[prost(double, tag = "2")]
        NumberValue(f64),
        /// String.
        #[prost(string, tag = "3")]
        StringValue(String),
        /// Bool.
        #[prost(bool, tag = "4")]
        BoolValue(bool),
    }
}

/// A hyperparameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum HParam {
    /// Number (learning rate, units, ...).
    Num(f64),
    /// Text (optimizer name, ...).
    Str(String),
    /// Flag.
    Bool(bool),
}

impl HParam {
    fn to_proto(&self) -> (ProtoValue, i32) {
        use proto_value::Kind;
        let (kind, ty) = match self {
            HParam::Num(x) => (Kind::NumberValue(*x), 3),
            HParam::Str(s) => (Kind::StringValue(s.clone()), 1),
            HParam::Bool(b) => (Kind::BoolValue(*b), 2),
        };
        (ProtoValue { kind: Some(kind) }, ty)
    }
}

const START_TAG: &str = "_hparams_/session_start_info";
const END_TAG: &str = "_hparams_/session_end_info";
const EXPERIMENT_TAG: &str = "_hparams_/experiment";

fn hparams_value(tag: &str, data: plugin_data::Data) -> Value {
    let content = HParamsPluginData {
        version: 0,
        data: Some(data),
    }
    .encode_to_vec();
    Value {
        tag: tag.into(),
        metadata: Some(SummaryMetadata {
            plugin_data: Some(PluginData {
                plugin_name: "hparams".into(),
                content,
            }),
            ..Default::default()
        }),
        tensor: Some(TensorProto {
            dtype: dtype::FLOAT,
            tensor_shape: Some(TensorShapeProto::of(&[0])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl EventWriter {
    /// Records that this run (the writer's directory) trains with `hparams`. Write it once, in
    /// the run's top directory, before its metrics; metrics are the scalars of the run's sub-runs.
    pub fn add_hparams(&mut self, hparams: &[(&str, HParam)], group_name: &str) -> Result<()> {
        let start = SessionStartInfo {
            hparams: hparams
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_proto().0))
                .collect(),
            group_name: group_name.into(),
            start_time_secs: self.now(),
        };
        self.write_value(
            hparams_value(START_TAG, plugin_data::Data::SessionStartInfo(start)),
            0,
        )
    }

    /// Records that the run ended (`success` false marks it failed in the HParams table).
    pub fn add_hparams_end(&mut self, success: bool) -> Result<()> {
        let end = SessionEndInfo {
            status: if success { 1 } else { 2 },
            end_time_secs: self.now(),
        };
        self.write_value(
            hparams_value(END_TAG, plugin_data::Data::SessionEndInfo(end)),
            0,
        )
    }

    /// The experiment config: which hparams (with an example value for their type) and which
    /// metrics, as (sub-run, tag) pairs, the HParams table shows. Optional: without it
    /// TensorBoard infers the columns from the sessions.
    pub fn add_hparams_config(
        &mut self,
        hparams: &[(&str, HParam)],
        metrics: &[(&str, &str)],
    ) -> Result<()> {
        let exp = Experiment {
            hparam_infos: hparams
                .iter()
                .map(|(k, v)| HParamInfo {
                    name: k.to_string(),
                    r#type: v.to_proto().1,
                })
                .collect(),
            metric_infos: metrics
                .iter()
                .map(|(group, tag)| MetricInfo {
                    name: Some(MetricName {
                        group: group.to_string(),
                        tag: tag.to_string(),
                    }),
                })
                .collect(),
            time_created_secs: self.now(),
        };
        self.write_value(
            hparams_value(EXPERIMENT_TAG, plugin_data::Data::Experiment(exp)),
            0,
        )
    }
}
