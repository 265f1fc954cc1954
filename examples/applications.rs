//! The ready-made architectures of `kiln::nn::applications`, built with random weights and
//! printed as Keras prints them.
//!
//! ```sh
//! cargo run --release --example applications -- resnet50          # the Keras ResNet50 table
//! cargo run --release --example applications -- resnet50 notop    # include_top=False
//! cargo run --release --example applications -- small_resnet      # ResNet-20 for 28x28x1
//! ```
//! Expected: ResNet50 totals 25,636,712 params with the top and 23,587,712 without, as Keras's.

use kiln::nn::applications::{ResNet50, SmallResNet};
use kiln::nn::prelude::*;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map_or("resnet50", String::as_str);
    let top = args.get(1).map(String::as_str) != Some("notop");
    let dev = Device::new()?;
    let model = match which {
        "resnet50" => ResNet50::new().include_top(top).build(&dev)?,
        "small_resnet" => SmallResNet::new().include_top(top).build(&dev)?,
        other => anyhow::bail!("unknown architecture {other:?}: use resnet50 or small_resnet"),
    };
    print!("{}", model.summary());
    Ok(())
}
