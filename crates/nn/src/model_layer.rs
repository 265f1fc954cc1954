//! A model as a layer of another model (Keras: a model is a layer). It is built already, so
//! being "built" for an input only checks the input's shape; its call runs its own graph
//! (dropout seeded from the outer call, BatchNormalization in inference mode when it or the
//! outer model is frozen); its weights are its layers', named `<inner layer>/<weight>`. A model
//! used as a layer has one output.

use serde_json::Value;

use kiln_graph::Tensor;

use crate::error::{NnError, Result};
use crate::layer::{BuildCtx, CallCtx, Layer, Weight};
use crate::model::{Kind, Model};

impl Model {
    fn one_output(&self) -> Result<Vec<usize>> {
        match (self.outputs.len(), self.output_shape()) {
            (1, Some(s)) => Ok(s),
            (1, None) => Err(NnError::Config(format!(
                "model {:?} is not built: build it before calling it as a layer",
                self.name()
            ))),
            (n, _) => Err(NnError::Config(format!(
                "model {:?} has {n} outputs; a model called as a layer has one",
                self.name()
            ))),
        }
    }
}

impl Layer for Model {
    fn class_name(&self) -> &'static str {
        match self.kind {
            Kind::Sequential => "Sequential",
            Kind::Functional => "Functional",
        }
    }

    fn build(&mut self, input_shape: &[usize], ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        self.build_inputs(&[input_shape.to_vec()], ctx)
    }

    fn build_inputs(
        &mut self,
        input_shapes: &[Vec<usize>],
        _ctx: &mut BuildCtx<'_>,
    ) -> Result<Vec<usize>> {
        match self.input_shapes() {
            Some(own) if own == input_shapes => self.one_output(),
            Some(own) => Err(NnError::Config(format!(
                "model {:?} takes inputs {own:?}, not {input_shapes:?}",
                self.name()
            ))),
            None => {
                // An unbuilt Sequential builds for the shapes it is first called on.
                self.build_graph(Some(input_shapes), None)?;
                self.one_output()
            }
        }
    }

    fn call(&self, x: &Tensor, ctx: &CallCtx) -> Result<Tensor> {
        self.call_inputs(std::slice::from_ref(x), ctx)
    }

    fn call_inputs(&self, xs: &[Tensor], ctx: &CallCtx) -> Result<Tensor> {
        let mut out = self.forward(xs, ctx.training, ctx.trainable, ctx.seed)?;
        match out.len() {
            1 => Ok(out.remove(0)),
            n => Err(NnError::Config(format!(
                "model {:?} has {n} outputs; a model called as a layer has one",
                self.name()
            ))),
        }
    }

    fn weights(&self) -> Vec<Weight> {
        self.weights()
            .into_iter()
            .map(|(name, w)| Weight { name, ..w })
            .collect()
    }

    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        self.slots
            .iter_mut()
            .flat_map(|s| s.layer.weights_mut())
            .collect()
    }

    fn trainable_weights(&self) -> Vec<Weight> {
        let all = Model::weights(self);
        let trainable = Model::trainable_weights(self);
        all.into_iter()
            .filter(|(_, w)| trainable.iter().any(|(_, t)| t.id() == w.value.id()))
            .map(|(name, w)| Weight { name, ..w })
            .collect()
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.set_all_trainable(trainable);
    }

    fn get_config(&self) -> Value {
        crate::checkpoint::architecture::model_config(self)
    }

    fn as_model(&self) -> Option<&Model> {
        Some(self)
    }

    fn as_model_mut(&mut self) -> Option<&mut Model> {
        Some(self)
    }
}
