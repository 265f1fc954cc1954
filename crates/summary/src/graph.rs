//! The model graph for TensorBoard's Graphs tab: a `GraphDef` (one `NodeDef` per layer or op,
//! its op type, its inputs as edges, its output shape in the `_output_shapes` attribute that the
//! graph view displays), serialized into `Event.graph_def`. Field numbers from tensorboard's
//! compat/proto/graph.proto, node_def.proto, attr_value.proto and versions.proto.

use std::collections::BTreeMap;

use prost::Message;

use crate::error::Result;
use crate::proto::{Dim, Event, TensorShapeProto, event::What};
use crate::writer::EventWriter;

/// `tensorboard.GraphDef`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphDef {
    /// Nodes.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeDef>,
    /// Versions.
    #[prost(message, optional, tag = "4")]
    pub versions: Option<VersionDef>,
}

/// `tensorboard.NodeDef`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeDef {
    /// Unique name; '/' groups nodes into expandable scopes.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Op type, shown on the node.
    #[prost(string, tag = "2")]
    pub op: String,
    /// Names of the nodes feeding this one (the edges).
    #[prost(string, repeated, tag = "3")]
    pub input: Vec<String>,
    /// Attributes.
    #[prost(btree_map = "string, message", tag = "5")]
    pub attr: BTreeMap<String, AttrValue>,
}

/// `tensorboard.AttrValue` (the variants kiln writes).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttrValue {
    /// The value.
    #[prost(oneof = "attr_value::Value", tags = "1, 2, 3, 7")]
    pub value: Option<attr_value::Value>,
}

/// `AttrValue.value`.
pub mod attr_value {
    /// An attribute value.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        /// A list (used for `_output_shapes`).
        #[prost(message, tag = "1")]
        List(super::ListValue),
        /// Bytes / string.
        #[prost(bytes, tag = "2")]
        S(Vec<u8>),
        /// Integer.
        #[prost(int64, tag = "3")]
        I(i64),
        /// A shape.
        #[prost(message, tag = "7")]
        Shape(super::TensorShapeProto),
    }
}

/// `tensorboard.AttrValue.ListValue` (shapes only).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListValue {
    /// Shapes.
    #[prost(message, repeated, tag = "7")]
    pub shape: Vec<TensorShapeProto>,
}

/// `tensorboard.VersionDef`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VersionDef {
    /// Producer version.
    #[prost(int32, tag = "1")]
    pub producer: i32,
}

/// One node of a model graph, in kiln's terms.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphNode {
    /// Unique name (e.g. "sequential/dense_1").
    pub name: String,
    /// Op or layer type (e.g. "Dense", "MatMul").
    pub op: String,
    /// Names of the input nodes.
    pub inputs: Vec<String>,
    /// Output shape; -1 for an unknown (batch) dimension.
    pub output_shape: Option<Vec<i64>>,
    /// Extra attributes shown in the node's info card (e.g. "units" = "128").
    pub attrs: Vec<(String, String)>,
}

impl GraphNode {
    fn to_proto(&self) -> NodeDef {
        let mut attr: BTreeMap<String, AttrValue> = self
            .attrs
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    AttrValue {
                        value: Some(attr_value::Value::S(v.clone().into_bytes())),
                    },
                )
            })
            .collect();
        if let Some(shape) = &self.output_shape {
            let shape = TensorShapeProto {
                dim: shape.iter().map(|&size| Dim { size }).collect(),
            };
            attr.insert(
                "_output_shapes".into(),
                AttrValue {
                    value: Some(attr_value::Value::List(ListValue { shape: vec![shape] })),
                },
            );
        }
        NodeDef {
            name: self.name.clone(),
            op: self.op.clone(),
            input: self.inputs.clone(),
            attr,
        }
    }
}

impl EventWriter {
    /// Writes the model graph (Graphs tab).
    pub fn add_graph(&mut self, nodes: &[GraphNode]) -> Result<()> {
        let graph = GraphDef {
            node: nodes.iter().map(GraphNode::to_proto).collect(),
            versions: Some(VersionDef { producer: 22 }),
        };
        let wall_time = self.now();
        self.write_event(&Event {
            wall_time,
            step: 0,
            what: Some(What::GraphDef(graph.encode_to_vec())),
        })
    }
}
