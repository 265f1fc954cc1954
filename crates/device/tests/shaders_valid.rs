//! Every WGSL file parses and validates with naga (the front end wgpu uses), and every `Kernel`
//! entry point exists in its file with the binding signature the launcher binds. No GPU needed.

use kiln_device::{Kernel, ShaderFile};

fn parse(file: ShaderFile) -> naga::Module {
    naga::front::wgsl::parse_str(file.source())
        .unwrap_or_else(|e| panic!("{}: {}", file.file_name(), e.emit_to_string(file.source())))
}

/// What wgpu validates against on an adapter with subgroups (`matmul_texture.wgsl` needs them;
/// no other file may use them, which `only_the_texture_matmul_uses_subgroups` checks).
fn validator() -> naga::valid::Validator {
    let mut v = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::SUBGROUP,
    );
    v.subgroup_stages(naga::valid::ShaderStages::COMPUTE)
        .subgroup_operations(naga::valid::SubgroupOperationSet::all());
    v
}

#[test]
fn only_the_texture_matmul_uses_subgroups() {
    for file in ShaderFile::ALL {
        let uses = file.source().contains("subgroup");
        assert_eq!(
            uses,
            file == ShaderFile::MatmulTexture,
            "{}: kernels outside matmul_texture.wgsl must run without subgroups",
            file.file_name()
        );
    }
}

#[test]
fn every_shader_parses_and_validates() {
    for file in ShaderFile::ALL {
        let module = parse(file);
        validator().validate(&module).unwrap_or_else(|e| {
            panic!("{}: {}", file.file_name(), e.emit_to_string(file.source()))
        });
    }
}

#[test]
fn every_kernel_entry_point_exists_with_its_bindings() {
    for kernel in Kernel::ALL {
        let spec = kernel.spec();
        let module = parse(spec.file);
        let ep = module
            .entry_points
            .iter()
            .find(|e| e.name == spec.entry_point)
            .unwrap_or_else(|| {
                panic!(
                    "{kernel:?}: no entry point `{}` in {}",
                    spec.entry_point,
                    spec.file.file_name()
                )
            });
        assert_eq!(ep.stage, naga::ShaderStage::Compute, "{kernel:?}");
        // Collect the bindings the entry point's function and its callees touch.
        let info = validator().validate(&module).expect("validated above");
        let idx = module
            .entry_points
            .iter()
            .position(|e| e.name == spec.entry_point)
            .expect("found above");
        let fi = info.get_entry_point(idx);
        for (handle, var) in module.global_variables.iter() {
            if fi[handle].is_empty() {
                continue;
            }
            let Some(binding) = &var.binding else {
                continue;
            };
            let b = binding.binding;
            assert_eq!(binding.group, 0, "{kernel:?}");
            let want = if b == 0 {
                naga::AddressSpace::Uniform
            } else if b <= spec.inputs && spec.texture_inputs {
                naga::AddressSpace::Handle
            } else if b <= spec.inputs {
                naga::AddressSpace::Storage {
                    access: naga::StorageAccess::LOAD,
                }
            } else if b <= spec.inputs + spec.outputs {
                naga::AddressSpace::Storage {
                    access: naga::StorageAccess::LOAD | naga::StorageAccess::STORE,
                }
            } else {
                panic!(
                    "{kernel:?} uses binding {b} beyond its {} buffers",
                    spec.inputs + spec.outputs
                );
            };
            assert_eq!(var.space, want, "{kernel:?} binding {b} ({:?})", var.name);
        }
    }
}

#[test]
fn every_shader_starts_with_a_header_naming_its_launcher() {
    for file in ShaderFile::ALL {
        let src = file.source();
        assert!(
            src.starts_with(&format!("// {}", file.file_name())),
            "{} must open with its header",
            file.file_name()
        );
        assert!(
            src.to_lowercase().contains("launcher:"),
            "{} header must name its launcher",
            file.file_name()
        );
    }
}

#[test]
fn every_texture_flavour_validates_with_texture_inputs() {
    use kiln_device::texture_flavor::texture_flavor;
    let mut flavoured = 0;
    for file in ShaderFile::ALL {
        let src = match texture_flavor(file.source()) {
            Ok(src) => src,
            Err(why) => {
                // Only files without storage inputs (fill, the texture kernels) have none.
                assert!(
                    !file.source().contains("var<storage, read>"),
                    "{} has storage inputs but no texture flavour: {why}",
                    file.file_name()
                );
                continue;
            }
        };
        flavoured += 1;
        let module = naga::front::wgsl::parse_str(&src)
            .unwrap_or_else(|e| panic!("{} flavour: {}", file.file_name(), e.emit_to_string(&src)));
        validator()
            .validate(&module)
            .unwrap_or_else(|e| panic!("{} flavour: {}", file.file_name(), e.emit_to_string(&src)));
        for (_, var) in module.global_variables.iter() {
            assert!(
                !matches!(
                    var.space,
                    naga::AddressSpace::Storage {
                        access: naga::StorageAccess::LOAD
                    }
                ),
                "{}: {:?} is still a read-only storage buffer",
                file.file_name(),
                var.name
            );
        }
    }
    assert!(
        flavoured >= 8,
        "only {flavoured} files have a texture flavour"
    );
}
