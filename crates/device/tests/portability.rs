//! Every WGSL module kiln compiles — each shader file and each texture flavour, with the codes
//! prelude, as `ShaderFile::source` assembles them — translates with naga (the translator wgpu
//! itself uses) to SPIR-V (Vulkan), MSL (Metal), HLSL (DX12) and GLSL (GL, one translation per
//! entry point). So a kernel that would not reach a Metal or DX12 driver fails on Linux, in CI,
//! before anyone runs it there. No GPU needed.
//!
//! Targets are what wgpu 30 asks for on each backend: SPIR-V 1.3, MSL 2.4, HLSL shader model
//! 6.0 (subgroup operations need 6.0), GLSL ES 3.10 (wgpu's GL compute baseline). Subgroups
//! (`matmul_texture*.wgsl` and `dense_backward.wgsl` only) are an optional feature kiln enables
//! where the adapter offers it; where it does not (wgpu's GL backend never does), the matmul
//! launcher takes the register-tile design and a Dense layer's backward its separate kernels
//! instead (chosen by `DeviceInfo::subgroups`). 64-bit integers (the files that append
//! `wide.wgsl`) are another: wgpu 30 offers them on Vulkan and DX12 only, so those files skip
//! the GLSL translation, and the launchers take their f32 kernels where
//! `DeviceInfo::shader_int64` is false.

use kiln_device::ShaderFile;
use kiln_device::texture_flavor::texture_flavor;
use naga::back::{glsl, hlsl, msl, spv};
use naga::valid::{Capabilities, ModuleInfo, ShaderStages, SubgroupOperationSet, Validator};

/// Every module kiln may create: (name, WGSL source, whether it needs 64-bit integers). The
/// wide flavours (`wide_flavor.rs`, over the plain file and over its texture flavour) run on
/// CPU adapters with 64-bit integers: lavapipe through SPIR-V, WARP through HLSL.
fn modules() -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for &file in ShaderFile::ALL {
        let src = file.source();
        let int64 = file.needs_int64();
        let mut plain = vec![(String::new(), src.clone())];
        if let Ok(flavour) = texture_flavor(&src) {
            plain.push((" (texture flavour)".to_string(), flavour));
        }
        for (what, text) in plain {
            if let Ok(wide) = file.wide_flavour_of(&text) {
                let name = format!("{}{what} (wide flavour)", file.file_name());
                out.push((name, wide, true));
            }
            out.push((format!("{}{what}", file.file_name()), text, int64));
        }
    }
    out
}

fn validate(name: &str, src: &str, caps: Capabilities) -> (naga::Module, ModuleInfo) {
    let module = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    let mut v = Validator::new(naga::valid::ValidationFlags::all(), caps);
    v.subgroup_stages(ShaderStages::COMPUTE)
        .subgroup_operations(SubgroupOperationSet::all());
    let info = v
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    // Pipeline-overridable constants take their values at pipeline creation, where wgpu runs
    // this same step with the launch's values (crates/device/src/overrides.rs); the backends
    // take a module without overrides. Their defaults here; the GPU tests run the others.
    let (module, info) = naga::back::pipeline_constants::process_overrides(
        &module,
        &info,
        None,
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("{name}: overrides: {e}"));
    (module.into_owned(), info.into_owned())
}

#[test]
fn every_module_translates_to_spirv() {
    for (name, src, _) in modules() {
        let (module, info) = validate(&name, &src, Capabilities::all());
        let options = spv::Options {
            lang_version: (1, 3),
            ..Default::default()
        };
        spv::write_vec(&module, &info, &options, None)
            .unwrap_or_else(|e| panic!("{name} -> SPIR-V: {e}"));
    }
}

#[test]
fn every_module_translates_to_msl() {
    for (name, src, _) in modules() {
        let (module, info) = validate(&name, &src, msl::supported_capabilities());
        let options = msl::Options {
            lang_version: (2, 4),
            ..Default::default()
        };
        let (text, _) = msl::write_string(&module, &info, &options, &Default::default())
            .unwrap_or_else(|e| panic!("{name} -> MSL: {e}"));
        assert!(
            text.contains("kernel void"),
            "{name}: no compute entry point in MSL"
        );
    }
}

#[test]
fn every_module_translates_to_hlsl() {
    for (name, src, _) in modules() {
        let (module, info) = validate(&name, &src, Capabilities::all());
        let options = hlsl::Options {
            shader_model: hlsl::ShaderModel::V6_0,
            ..Default::default()
        };
        let pipeline = hlsl::PipelineOptions::default();
        let mut text = String::new();
        hlsl::Writer::new(&mut text, &options, &pipeline)
            .write(&module, &info, None)
            .unwrap_or_else(|e| panic!("{name} -> HLSL: {e}"));
        assert!(
            text.contains("[numthreads("),
            "{name}: no compute entry point in HLSL"
        );
    }
}

#[test]
fn every_module_translates_to_glsl_entry_point_by_entry_point() {
    let mut translated = 0;
    // wgpu's GL backend never offers 64-bit integers (module header).
    for (name, src, _) in modules().into_iter().filter(|m| !m.2) {
        let (module, info) = validate(&name, &src, Capabilities::all());
        let options = glsl::Options {
            version: glsl::Version::Embedded {
                version: 310,
                is_webgl: false,
            },
            ..Default::default()
        };
        for ep in &module.entry_points {
            let pipeline = glsl::PipelineOptions {
                shader_stage: naga::ShaderStage::Compute,
                entry_point: ep.name.clone(),
                multiview: None,
            };
            let mut text = String::new();
            glsl::Writer::new(
                &mut text,
                &module,
                &info,
                &options,
                &pipeline,
                naga::proc::BoundsCheckPolicies::default(),
            )
            .and_then(|mut w| w.write())
            .unwrap_or_else(|e| panic!("{name} `{}` -> GLSL: {e}", ep.name));
            translated += 1;
        }
    }
    assert!(
        translated >= 40,
        "only {translated} entry points translated"
    );
}
