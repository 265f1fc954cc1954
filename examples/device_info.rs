//! Prints the adapter kiln opens, with the limits it checks launches against and the optional
//! features its kernels choose designs by. `KILN_BACKEND=vulkan|metal|dx12|gl` and
//! `KILN_ADAPTER=<name>` pick another one.
//!
//! ```sh
//! cargo run --release --example device_info
//! KILN_BACKEND=gl cargo run --release --example device_info
//! ```

fn main() -> anyhow::Result<()> {
    let dev = kiln::device::Device::new()?;
    println!("{:#}", dev.info());
    Ok(())
}
