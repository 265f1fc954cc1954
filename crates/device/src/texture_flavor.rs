//! The texture flavour of a WGSL file: the same kernels, reading their read-only inputs from
//! staging textures instead of storage buffers. On llvmpipe a per-lane storage load costs a
//! store-forwarding stall per value while a texel fetch is a gather (see `matmul_texture.wgsl`),
//! so `Device::dispatch` runs this flavour there for kernels with large inputs (see
//! `TextureInputs`). Writing each kernel twice would double every shader file; the rewrite is
//! mechanical instead, and `tests/shaders_valid.rs` validates the result for every file.
//!
//! Rewrite: every `@group(0) @binding(N) var<storage, read> NAME: array<T>;` (T = f32 or u32)
//! becomes a `texture_2d<f32>` binding `NAME_tex` plus a function `NAME_at(i)` that returns
//! element i of the flat staging layout (texel i / 4 at (t % 256, t / 256), component i % 4,
//! bit-cast back to T; for T = vec4<f32> or vec4<u32>, texel i whole), and every `NAME[expr]`
//! becomes `NAME_at(expr)`. Files whose inputs are
//! used any other way (`arrayLength`, a pointer) have no flavour.

use crate::staging::WIDTH;

/// A read-only storage array declared in a WGSL file.
struct Input {
    name: String,
    elem: String,
}

/// Parses `@group(0) @binding(N) var<storage, read> NAME: array<T>;`.
fn input_decl(line: &str) -> Option<(String, Input)> {
    let t = line.trim();
    let rest = t.strip_prefix("@group(0) @binding(")?;
    let (binding, rest) = rest.split_once(')')?;
    let rest = rest.trim_start().strip_prefix("var<storage, read>")?;
    let (name, ty) = rest.split_once(':')?;
    let elem = ty
        .trim()
        .strip_prefix("array<")?
        .strip_suffix(">;")?
        .to_string();
    Some((
        binding.to_string(),
        Input {
            name: name.trim().to_string(),
            elem,
        },
    ))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Replaces `name[...]` (balanced brackets, on one line) with `name_at(...)` in the code part of
/// every line (comments are left alone); errors on any other use.
fn rewrite_uses(src: &str, name: &str) -> Result<String, String> {
    let mut out = String::with_capacity(src.len());
    for line in src.lines() {
        let (code, comment) = match line.find("//") {
            Some(i) => line.split_at(i),
            None => (line, ""),
        };
        out.push_str(&rewrite_code(code, name).map_err(|e| format!("{e} in `{}`", line.trim()))?);
        out.push_str(comment);
        out.push('\n');
    }
    Ok(out)
}

fn rewrite_code(src: &str, name: &str) -> Result<String, String> {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(pos) = rest.find(name) {
        // The character before the match, which may already be in `out`.
        let before = rest[..pos].chars().last().or_else(|| out.chars().last());
        let after = &rest[pos + name.len()..];
        // Part of a longer identifier, or a struct field of the same name.
        if before.is_some_and(|c| is_ident(c) || c == '.') || after.starts_with(is_ident) {
            out.push_str(&rest[..pos + name.len()]);
            rest = after;
            continue;
        }
        if !after.starts_with('[') {
            return Err(format!("`{name}` is used other than as `{name}[i]`"));
        }
        out.push_str(&rest[..pos]);
        out.push_str(name);
        out.push_str("_at(");
        let mut depth = 0usize;
        let mut end = None;
        for (i, c) in after.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| format!("unbalanced `[` after `{name}`"))?;
        out.push_str(&after[1..end]);
        out.push(')');
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The texture flavour of `src`, or why it has none.
pub fn texture_flavor(src: &str) -> Result<String, String> {
    let mut inputs = Vec::new();
    let mut text = String::with_capacity(src.len() * 2);
    for line in src.lines() {
        match input_decl(line) {
            Some((binding, input)) if input.elem.starts_with("vec4<") => {
                if input.elem != "vec4<f32>" && input.elem != "vec4<u32>" {
                    return Err(format!("`{}` holds {}", input.name, input.elem));
                }
                // Element i is texel i whole.
                let (name, elem) = (&input.name, &input.elem);
                text.push_str(&format!(
                    "@group(0) @binding({binding}) var {name}_tex: texture_2d<f32>;\n\
                     fn {name}_at(i: u32) -> {elem} {{\n    \
                     return bitcast<{elem}>(textureLoad({name}_tex, vec2<i32>(i32(i % {WIDTH}u), i32(i / {WIDTH}u)), 0));\n}}\n"
                ));
                inputs.push(input);
            }
            Some((binding, input)) => {
                if input.elem != "f32" && input.elem != "u32" {
                    return Err(format!("`{}` holds {}", input.name, input.elem));
                }
                let (name, elem) = (&input.name, &input.elem);
                text.push_str(&format!(
                    "@group(0) @binding({binding}) var {name}_tex: texture_2d<f32>;\n\
                     fn {name}_at(i: u32) -> {elem} {{\n    \
                     let t = i / 4u;\n    \
                     let texel = textureLoad({name}_tex, vec2<i32>(i32(t % {WIDTH}u), i32(t / {WIDTH}u)), 0);\n    \
                     return bitcast<{elem}>(texel[i % 4u]);\n}}\n"
                ));
                inputs.push(input);
            }
            None => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    if inputs.is_empty() {
        return Err("no read-only storage inputs".into());
    }
    for input in &inputs {
        // Rewrite uses only: the declaration and loader already carry the new names.
        text = rewrite_uses(&text, &input.name)?;
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexing_becomes_a_texel_fetch_with_nested_brackets() {
        let src = "@group(0) @binding(1) var<storage, read> x: array<f32>;\n\
                   @group(0) @binding(2) var<storage, read> idx: array<u32>;\n\
                   // x is read at idx\n\
                   fn f(i: u32) -> f32 { let xx = 1.0; return x[idx[i] + 1u] * xs[0] + p.x + xx; }\n";
        let out = texture_flavor(src).unwrap();
        assert!(out.contains("var x_tex: texture_2d<f32>;"), "{out}");
        assert!(out.contains("fn idx_at(i: u32) -> u32"), "{out}");
        assert!(
            out.contains("return x_at(idx_at(i) + 1u) * xs[0] + p.x + xx;"),
            "{out}"
        );
        assert!(out.contains("// x is read at idx"), "{out}");
    }

    #[test]
    fn a_vec4_element_is_one_whole_texel() {
        let src = "@group(0) @binding(1) var<storage, read> v: array<vec4<u32>>;\n\
                   fn f(i: u32) -> vec4<u32> { return v[i + 2u]; }\n";
        let out = texture_flavor(src).unwrap();
        assert!(out.contains("fn v_at(i: u32) -> vec4<u32>"), "{out}");
        assert!(
            out.contains(
                "bitcast<vec4<u32>>(textureLoad(v_tex, vec2<i32>(i32(i % 256u), i32(i / 256u)), 0))"
            ),
            "{out}"
        );
        assert!(out.contains("return v_at(i + 2u);"), "{out}");
    }

    #[test]
    fn other_uses_and_other_element_types_have_no_flavour() {
        let decl = "@group(0) @binding(1) var<storage, read> x: array<f32>;\n";
        let err = texture_flavor(&format!(
            "{decl}fn n() -> u32 {{ return arrayLength(&x); }}"
        ))
        .unwrap_err();
        assert!(err.contains("`x`"), "{err}");
        let vec2 = "@group(0) @binding(1) var<storage, read> v: array<vec2<f32>>;\n";
        assert!(texture_flavor(vec2).unwrap_err().contains("vec2"));
        let vec3 = "@group(0) @binding(1) var<storage, read> v: array<vec4<i32>>;\n";
        assert!(texture_flavor(vec3).unwrap_err().contains("vec4<i32>"));
        assert!(texture_flavor("fn f() {}").is_err());
    }
}
