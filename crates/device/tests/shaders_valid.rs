//! Every WGSL file parses and validates with naga (the front end wgpu uses), and every `Kernel`
//! entry point exists in its file with the binding signature the launcher binds. No GPU needed.

use kiln_device::{Kernel, ShaderFile};

fn parse(file: ShaderFile) -> naga::Module {
    let src = file.source();
    naga::front::wgsl::parse_str(&src)
        .unwrap_or_else(|e| panic!("{}: {}", file.file_name(), e.emit_to_string(&src)))
}

/// What wgpu validates `file` against on an adapter with subgroups (`matmul_texture*.wgsl` and
/// `dense_backward.wgsl`, the CPU-adapter designs, need them; no other file may use them, which
/// `only_the_cpu_adapter_designs_use_subgroups` checks), with 64-bit integers only for the files
/// that append `wide.wgsl` (`ShaderFile::needs_int64`): the others must validate on a device
/// without them.
fn validator(file: ShaderFile) -> naga::valid::Validator {
    let mut caps = naga::valid::Capabilities::SUBGROUP;
    if file.needs_int64() {
        caps |= naga::valid::Capabilities::SHADER_INT64;
    }
    let mut v = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps);
    v.subgroup_stages(naga::valid::ShaderStages::COMPUTE)
        .subgroup_operations(naga::valid::SubgroupOperationSet::all());
    v
}

#[test]
fn only_the_cpu_adapter_designs_use_subgroups() {
    for &file in ShaderFile::ALL {
        let uses = file.source().contains("subgroup");
        assert_eq!(
            uses,
            matches!(
                file,
                ShaderFile::MatmulTexture
                    | ShaderFile::MatmulTexture32
                    | ShaderFile::MatmulTextureWide
                    | ShaderFile::DenseBackward
            ),
            "{}: kernels outside matmul_texture*.wgsl and dense_backward.wgsl must run without \
             subgroups",
            file.file_name()
        );
    }
}

#[test]
fn only_the_wide_files_name_64_bit_integers() {
    for &file in ShaderFile::ALL {
        let uses = ["u64", "i64"].iter().any(|t| file.source().contains(t));
        assert_eq!(
            uses,
            file.needs_int64(),
            "{}: 64-bit integers belong in the files that append wide.wgsl (a module that names \
             them does not validate on a device without them)",
            file.file_name()
        );
    }
}

#[test]
fn every_shader_parses_and_validates() {
    for &file in ShaderFile::ALL {
        let module = parse(file);
        validator(file).validate(&module).unwrap_or_else(|e| {
            panic!("{}: {}", file.file_name(), e.emit_to_string(&file.source()))
        });
    }
}

#[test]
fn every_kernel_entry_point_exists_with_its_bindings() {
    for &kernel in Kernel::ALL {
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
        let info = validator(spec.file)
            .validate(&module)
            .expect("validated above");
        let idx = module
            .entry_points
            .iter()
            .position(|e| e.name == spec.entry_point)
            .expect("found above");
        let fi = info.get_entry_point(idx);
        let mut used = std::collections::BTreeSet::new();
        for (handle, var) in module.global_variables.iter() {
            if fi[handle].is_empty() {
                continue;
            }
            let Some(binding) = &var.binding else {
                continue;
            };
            let b = binding.binding;
            used.insert(b);
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
        // And every buffer the launcher binds is one the entry point reads or writes: a
        // declared count above the shader's would reject every launch.
        let declared: std::collections::BTreeSet<u32> = (1..=spec.inputs + spec.outputs).collect();
        let used_buffers: std::collections::BTreeSet<u32> =
            used.into_iter().filter(|&b| b > 0).collect();
        assert_eq!(
            used_buffers, declared,
            "{kernel:?}: bindings the shader uses vs the ones declared"
        );
    }
}

#[test]
fn every_shader_starts_with_a_header_naming_its_launcher() {
    for &file in ShaderFile::ALL {
        let src = file.text();
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
    for &file in ShaderFile::ALL {
        let src = match texture_flavor(&file.source()) {
            Ok(src) => src,
            Err(why) => {
                // Only files without storage inputs (fill, the texture kernels) have none.
                assert!(
                    !file.text().contains("var<storage, read>"),
                    "{} has storage inputs but no texture flavour: {why}",
                    file.file_name()
                );
                continue;
            }
        };
        flavoured += 1;
        let module = naga::front::wgsl::parse_str(&src)
            .unwrap_or_else(|e| panic!("{} flavour: {}", file.file_name(), e.emit_to_string(&src)));
        validator(file)
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

#[test]
fn every_compute_entry_point_of_every_file_is_a_kernel() {
    // The other direction of `every_kernel_entry_point_exists_with_its_bindings`: an entry
    // point no `Kernel` names would never be compiled, launched or tested.
    for &file in ShaderFile::ALL {
        for ep in parse(file).entry_points {
            assert!(
                Kernel::ALL
                    .iter()
                    .any(|k| k.entry_point() == ep.name && k.spec().file == file),
                "{}: entry point `{}` is not listed in the Kernel enum",
                file.file_name(),
                ep.name
            );
        }
    }
}

/// The labels of every `switch` in `src` (each switch's `case` identifiers) and whether its
/// `default` arm returns `poison()`.
fn switches(src: &str) -> Vec<(Vec<String>, bool)> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(at) = rest.find("switch ") {
        let body_start = at + rest[at..].find('{').expect("a switch has a body");
        let mut depth = 0;
        let mut end = body_start;
        for (i, c) in rest[body_start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = body_start + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let body = &rest[body_start..end];
        let mut labels = Vec::new();
        for part in body.split("case ").skip(1) {
            let list = part.split(':').next().unwrap_or_default();
            labels.extend(list.split(',').map(|l| l.trim().to_string()));
        }
        let poisoned = body.split("default:").nth(1).is_some_and(|d| {
            d.trim_start().starts_with("{ return poison()")
                || d.trim_start().starts_with("{ return vec4<f32>(poison())")
        });
        out.push((labels, poisoned));
        rest = &rest[end..];
    }
    out
}

#[test]
fn every_switch_over_a_code_family_lists_all_of_it_and_poisons_the_rest() {
    let mut checked = 0;
    for &file in ShaderFile::ALL {
        let src = file.source();
        for (labels, poisoned) in switches(&src) {
            let mut families = 0;
            for (prefix, members) in kiln_device::codes::FAMILIES {
                let used: Vec<&String> = labels
                    .iter()
                    .filter(|l| l.starts_with(&format!("{prefix}_")))
                    .collect();
                if used.is_empty() {
                    continue;
                }
                families += 1;
                for (name, _) in *members {
                    assert!(
                        labels.iter().any(|l| l == name),
                        "{}: a switch over {prefix}_* codes misses {name} (labels {labels:?})",
                        file.file_name()
                    );
                }
            }
            if families > 0 {
                checked += 1;
                assert!(
                    poisoned,
                    "{}: a switch over {labels:?} must end with `default: {{ return poison(); }}`",
                    file.file_name()
                );
            }
        }
    }
    // activation.wgsl's three (appended to five files), unary_fn, unary_grad, and the binary
    // ones: a parser that found none would pass vacuously.
    assert!(checked >= 15, "only {checked} switches over codes found");
}

/// Every file with vec4 storage arrays has a wide flavour (`wide_flavor.rs`) that validates with
/// 64-bit integers and leaves no vec4 storage array, and so has its texture flavour where that
/// keeps one (a file whose only vec4 arrays are inputs has none over its texture flavour); the
/// files that move 64-bit words themselves have none.
#[test]
fn every_wide_flavour_validates_with_int64() {
    use kiln_device::texture_flavor::texture_flavor;
    let mut int64 = naga::valid::Capabilities::SUBGROUP;
    int64 |= naga::valid::Capabilities::SHADER_INT64;
    let mut flavoured = Vec::new();
    for &file in ShaderFile::ALL {
        let mut sources = vec![("plain", file.source())];
        if let Ok(t) = texture_flavor(&file.source()) {
            sources.push(("texture", t));
        }
        for (over, src) in sources {
            let name = format!("{} ({over}, wide)", file.file_name());
            let vec4_arrays = src.lines().any(|l| {
                l.trim_start().starts_with("@group(0)")
                    && l.contains("var<storage")
                    && l.contains("array<vec4<")
            });
            let wide = match file.wide_flavour_of(&src) {
                Ok(w) => w,
                Err(why) => {
                    assert!(
                        !vec4_arrays || file.needs_int64(),
                        "{name}: vec4 storage arrays but no wide flavour: {why}"
                    );
                    continue;
                }
            };
            flavoured.push(name.clone());
            let module = naga::front::wgsl::parse_str(&wide)
                .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&wide)));
            let mut v = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), int64);
            v.subgroup_stages(naga::valid::ShaderStages::COMPUTE)
                .subgroup_operations(naga::valid::SubgroupOperationSet::all());
            v.validate(&module)
                .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&wide)));
            for (_, var) in module.global_variables.iter() {
                if let naga::AddressSpace::Storage { .. } = var.space {
                    let ty = &module.types[var.ty].inner;
                    if let naga::TypeInner::Array { base, .. } = ty {
                        assert!(
                            !matches!(
                                module.types[*base].inner,
                                naga::TypeInner::Vector {
                                    size: naga::VectorSize::Quad,
                                    ..
                                }
                            ),
                            "{name}: {:?} is still a vec4 storage array",
                            var.name
                        );
                    }
                }
            }
        }
    }
    assert!(
        flavoured.len() >= 12,
        "only {} wide flavours: {flavoured:?}",
        flavoured.len()
    );
}
