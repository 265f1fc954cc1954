//! A model's architecture as JSON, in the shape of Keras's `model.to_json()` config, and the
//! model rebuilt from it. A Sequential is its layers in order and its input shape; a functional
//! model lists every layer once with the calls made on it (`inbound_nodes`: per call, the
//! `[layer, call index, 0, {}]` of each input, as Keras 2 writes them), then its input and
//! output layers. A nested model is a layer whose config is its own architecture; a shared
//! layer is one entry with several calls. Reading checks every reference, so a crafted file with
//! a cycle, a dangling name or a duplicate is an error naming the layer.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::checkpoint::config::{layer_entry, layer_json};
use crate::error::{NnError, Result};
use crate::layer::Layer;
use crate::layers::registry;
use crate::model::{Kind, Model, Node, Slot};
use crate::sequential::Sequential;

/// Builds layers of classes kiln does not know (user-defined layers) from their class name and
/// `get_config()` JSON; `None` for a class it does not know either.
pub type LayerFactory<'a> = &'a dyn Fn(&str, &Value) -> Option<Result<Box<dyn Layer>>>;

fn bad(what: String) -> NnError {
    NnError::Config(format!("architecture: {what}"))
}

/// The architecture of `model` (its layers' configs and how they connect).
pub(crate) fn model_config(model: &Model) -> Value {
    let layers: Vec<Value> = model
        .slots
        .iter()
        .map(|s| layer_json(&s.name, s.layer.as_ref(), s.trainable))
        .collect();
    match model.kind {
        Kind::Sequential => json!({
            "name": model.name(),
            "input_shape": model.input_shape(),
            "layers": layers,
        }),
        Kind::Functional => functional_config(model, layers),
    }
}

fn functional_config(model: &Model, layers: Vec<Value>) -> Value {
    // Where each node's output is: (layer or input name, call index of that layer).
    let mut calls: HashMap<usize, usize> = HashMap::new();
    let mut at: Vec<(String, usize)> = Vec::with_capacity(model.nodes.len());
    let mut inbound: Vec<Vec<Value>> = vec![Vec::new(); model.slots.len()];
    for node in &model.nodes {
        match node.layer {
            None => at.push((node.name.clone(), 0)),
            Some(l) => {
                let k = calls.entry(l).or_insert(0);
                let args: Vec<Value> = node
                    .inputs
                    .iter()
                    .map(|&j| json!([at[j].0, at[j].1, 0, {}]))
                    .collect();
                inbound[l].push(Value::Array(args));
                at.push((model.slots[l].name.clone(), *k));
                *k += 1;
            }
        }
    }
    let mut entries: Vec<Value> = model
        .inputs
        .iter()
        .map(|&i| {
            let n = &model.nodes[i];
            let mut shape = vec![Value::Null];
            shape.extend(n.shape.iter().flatten().map(|&d| json!(d)));
            json!({"class_name": "InputLayer", "name": n.name,
                   "config": {"name": n.name, "batch_shape": shape}, "inbound_nodes": []})
        })
        .collect();
    for (mut entry, calls) in layers.into_iter().zip(inbound) {
        entry["name"] = entry["config"]["name"].clone();
        entry["inbound_nodes"] = Value::Array(calls);
        entries.push(entry);
    }
    let refs =
        |v: &[usize]| -> Vec<Value> { v.iter().map(|&i| json!([at[i].0, at[i].1, 0])).collect() };
    json!({
        "class_name": "Functional",
        "name": model.name(),
        "layers": entries,
        "input_layers": refs(&model.inputs),
        "output_layers": refs(&model.outputs),
    })
}

/// The weights expected under `prefix/`, with the prefix removed (a nested model's).
fn sub_expected(
    expected: Option<&HashMap<String, Vec<usize>>>,
    prefix: &str,
) -> Option<HashMap<String, Vec<usize>>> {
    let p = format!("{prefix}/");
    expected.map(|m| {
        m.iter()
            .filter_map(|(k, v)| k.strip_prefix(&p).map(|r| (r.to_string(), v.clone())))
            .collect()
    })
}

/// One layer from its entry: a nested model (built, its weights checked against `expected`
/// under its name), a built-in class, or the factory's.
fn layer_from(
    device: &kiln_graph::Device,
    class: &str,
    name: &str,
    cfg: &Value,
    factory: LayerFactory<'_>,
    expected: Option<&HashMap<String, Vec<usize>>>,
) -> Result<Box<dyn Layer>> {
    if class == "Functional" || class == "Sequential" {
        let sub = sub_expected(expected, name);
        return Ok(Box::new(model_from_config(
            device,
            cfg,
            factory,
            sub.as_ref(),
        )?));
    }
    match registry::from_config(class, cfg)? {
        Some(l) => Ok(l),
        None => factory(class, cfg).ok_or_else(|| {
            bad(format!(
                "layer {name:?} has class {class:?}, which kiln does not know: pass a LayerFactory to load_model_with"
            ))
        })?,
    }
}

/// The model `config` describes (`model_config`'s form), built, every weight checked against
/// `expected` before it is allocated when given.
pub(crate) fn model_from_config(
    device: &kiln_graph::Device,
    config: &Value,
    factory: LayerFactory<'_>,
    expected: Option<&HashMap<String, Vec<usize>>>,
) -> Result<Model> {
    let entries = config["layers"]
        .as_array()
        .ok_or_else(|| bad("no layer list".into()))?;
    if config["class_name"] == "Functional" {
        return functional_from(device, config, entries, factory, expected);
    }
    let mut model = Sequential::new(device);
    model.set_name(config["name"].as_str().unwrap_or("sequential"));
    let mut frozen = Vec::new();
    for entry in entries {
        let (class, name, trainable, cfg) = layer_entry(entry)?;
        let layer = layer_from(device, &class, &name, &cfg, factory, expected)?;
        model.add_boxed(&name, layer)?;
        if !trainable {
            frozen.push(name);
        }
    }
    let input: Option<Vec<usize>> = config["input_shape"].as_array().map(|a| {
        a.iter()
            .filter_map(Value::as_u64)
            .map(|d| d as usize)
            .collect()
    });
    if let Some(shape) = input {
        model.build_checked(&shape, expected)?;
    }
    let mut model = model.into_model();
    for name in frozen {
        model.set_trainable(&name, false)?;
    }
    Ok(model)
}

/// Where a tensor comes from: (layer or input name, call index).
type Ref = (String, usize);

/// A call still to place: (slot, call index, input references).
type Call = (usize, usize, Vec<Ref>);

/// A `[name, call index, tensor index]` reference.
fn reference(v: &Value) -> Result<Ref> {
    match (v[0].as_str(), v[1].as_u64()) {
        (Some(n), Some(k)) => Ok((n.to_string(), k as usize)),
        _ => Err(bad(format!("{v} is not a [layer, node, tensor] reference"))),
    }
}

fn functional_from(
    device: &kiln_graph::Device,
    config: &Value,
    entries: &[Value],
    factory: LayerFactory<'_>,
    expected: Option<&HashMap<String, Vec<usize>>>,
) -> Result<Model> {
    let name = config["name"].as_str().unwrap_or("functional");
    let mut model = Model::empty(device, Kind::Functional, name, 0);
    // Produced outputs: (layer or input name, call index) -> node.
    let mut produced: HashMap<Ref, usize> = HashMap::new();
    let mut waiting: Vec<Call> = Vec::new();
    let mut frozen = Vec::new();
    for entry in entries {
        if entry["class_name"] == "InputLayer" {
            let n = entry["config"]["name"]
                .as_str()
                .ok_or_else(|| bad(format!("an InputLayer without a name: {entry}")))?;
            let shape = entry["config"]["batch_shape"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .skip(1)
                        .map(|d| d.as_u64().map(|d| d as usize))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| bad(format!("input {n:?} has no batch_shape")))?
                .ok_or_else(|| bad(format!("input {n:?} has a dimension that is not a size")))?;
            if produced
                .insert((n.to_string(), 0), model.nodes.len())
                .is_some()
            {
                return Err(bad(format!("two layers are named {n:?}")));
            }
            model.nodes.push(Node {
                layer: None,
                inputs: Vec::new(),
                name: n.to_string(),
                shape: Some(shape),
            });
            continue;
        }
        let (class, lname, trainable, cfg) = layer_entry(entry)?;
        if model.slots.iter().any(|s| s.name == lname) || produced.contains_key(&(lname.clone(), 0))
        {
            return Err(bad(format!("two layers are named {lname:?}")));
        }
        let layer = layer_from(device, &class, &lname, &cfg, factory, expected)?;
        let built = layer
            .as_model()
            .and_then(|m| Some((m.input_shapes()?, m.output_shape()?)));
        model.slots.push(Slot {
            name: lname.clone(),
            layer,
            trainable: true,
            built,
        });
        if !trainable {
            frozen.push(lname.clone());
        }
        let calls = entry["inbound_nodes"]
            .as_array()
            .ok_or_else(|| bad(format!("layer {lname:?} has no inbound_nodes")))?;
        for (k, call) in calls.iter().enumerate() {
            let args = call
                .as_array()
                .ok_or_else(|| bad(format!("layer {lname:?}: a call is not a list: {call}")))?;
            let refs = args.iter().map(reference).collect::<Result<Vec<_>>>()?;
            waiting.push((model.slots.len() - 1, k, refs));
        }
    }
    // Place each call once all its inputs exist (Kahn's algorithm): what never becomes ready
    // depends on itself or on something that is not there.
    while !waiting.is_empty() {
        let ready = waiting
            .iter()
            .position(|(_, _, refs)| refs.iter().all(|r| produced.contains_key(r)));
        let Some(i) = ready else {
            let (slot, _, refs) = &waiting[0];
            let missing = refs.iter().find(|r| !produced.contains_key(*r));
            return Err(bad(format!(
                "layer {:?} reads {:?}, which no layer produces before it: the graph has a cycle \
                 or a dangling reference",
                model.slots[*slot].name,
                missing
                    .map(|(n, k)| format!("{n}[{k}]"))
                    .unwrap_or_default()
            )));
        };
        let (slot, k, refs) = waiting.remove(i);
        let name = &model.slots[slot].name;
        produced.insert((name.clone(), k), model.nodes.len());
        model.nodes.push(Node {
            layer: Some(slot),
            inputs: refs.iter().map(|r| produced[r]).collect(),
            name: if k == 0 {
                name.clone()
            } else {
                format!("{name}_call{k}")
            },
            shape: None,
        });
    }
    let resolve = |key: &str| -> Result<Vec<usize>> {
        config[key]
            .as_array()
            .ok_or_else(|| bad(format!("no {key}")))?
            .iter()
            .map(|r| {
                let r = reference(r)?;
                produced.get(&r).copied().ok_or_else(|| {
                    bad(format!(
                        "{key} names {}[{}], which is not in the model",
                        r.0, r.1
                    ))
                })
            })
            .collect()
    };
    model.inputs = resolve("input_layers")?;
    model.outputs = resolve("output_layers")?;
    if model.inputs.iter().any(|&i| model.nodes[i].layer.is_some()) {
        return Err(bad("input_layers must name InputLayer entries".into()));
    }
    model.build_graph(None, expected)?;
    for name in frozen {
        model.set_trainable(&name, false)?;
    }
    Ok(model)
}
