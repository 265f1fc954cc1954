//! Every WGSL file parses and validates with naga (the front end wgpu uses), and every `Kernel`
//! entry point exists in its file with the binding signature the launcher binds. No GPU needed.

use kiln_device::{Kernel, ShaderFile};

fn parse(file: ShaderFile) -> naga::Module {
    naga::front::wgsl::parse_str(file.source())
        .unwrap_or_else(|e| panic!("{}: {}", file.file_name(), e.emit_to_string(file.source())))
}

#[test]
fn every_shader_parses_and_validates() {
    for file in ShaderFile::ALL {
        let module = parse(file);
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        );
        validator.validate(&module).unwrap_or_else(|e| {
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
        let info = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .expect("validated above");
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
