//! The wide flavour of a WGSL file: the same kernels, moving their vec4 storage arrays as 64-bit
//! words. On llvmpipe (Mesa 22.3) a storage load or store is a loop over the SIMD lanes with a
//! bounds check and a branch per component, whatever the component's width, so a `vec2<u64>`
//! moves a vec4's 16 bytes in half the per-lane steps of a `vec4<f32>` (measured in
//! `shaders/wide.wgsl`'s header). `Device::launch` runs this flavour on CPU adapters whose
//! device has 64-bit shader integers (`DeviceInfo::shader_int64`). Like the texture flavour,
//! the rewrite is mechanical instead of every kernel written twice, and
//! `tests/shaders_valid.rs` validates the result for every file.
//!
//! Rewrite: every `@group(0) @binding(N) var<storage, ACCESS> NAME: array<vec4<T>>;` (T = f32
//! or u32) becomes `array<vec2<u64>>` (the same 16-byte stride, so the same bindings and
//! `arrayLength`), every read `NAME[i]` becomes `unpack4(NAME[i])` (`unpack4u` for u32), every
//! store `NAME[i] = v;` becomes `NAME[i] = pack4(v);`, and `wide.wgsl`'s helpers are appended.
//! The bits are unchanged, so each kernel computes the same results in either flavour. A file
//! that uses such an array any other way (a compound assignment, a component store, a pointer
//! other than `arrayLength(&NAME)`, a store whose value ends on another line) has no flavour,
//! and neither has a file that already moves words itself (`ShaderFile::needs_int64`).

/// A vec4 storage array declared in a WGSL file, and the helpers that convert its elements.
struct Array {
    name: String,
    unpack: &'static str,
    pack: &'static str,
}

/// Parses `@group(0) @binding(N) var<storage, ACCESS> NAME: array<vec4<T>>;` into the line with
/// the array's new type and the array, for T = f32 or u32.
fn vec4_decl(line: &str) -> Option<Result<(String, Array), String>> {
    let t = line.trim();
    let rest = t.strip_prefix("@group(0) @binding(")?;
    let (_, rest) = rest.split_once(')')?;
    let rest = rest.trim_start().strip_prefix("var<storage, ")?;
    let (_, rest) = rest.split_once('>')?;
    let (name, ty) = rest.split_once(':')?;
    let elem = ty.trim().strip_prefix("array<vec4<")?.strip_suffix(">>;")?;
    let (unpack, pack) = match elem {
        "f32" => ("unpack4", "pack4"),
        "u32" => ("unpack4u", "pack4u"),
        other => return Some(Err(format!("`{}` holds vec4<{other}>", name.trim()))),
    };
    let decl = t.replace(&format!("array<vec4<{elem}>>"), "array<vec2<u64>>");
    let array = Array {
        name: name.trim().to_string(),
        unpack,
        pack,
    };
    Some(Ok((decl, array)))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The byte index of the `close` that balances the `open` at `s[0]`.
fn matching(s: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// The byte index of the `;` that ends the statement starting at `s[0]` (outside brackets).
fn statement_end(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ';' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// Rewrites the reads and stores of `arrays` in `code` (one line's code, no comment).
fn rewrite_code(code: &str, arrays: &[Array]) -> Result<String, String> {
    let mut out = String::with_capacity(code.len() + 32);
    let mut rest = code;
    'scan: while !rest.is_empty() {
        for a in arrays {
            let name = a.name.as_str();
            let Some(after) = rest.strip_prefix(name) else {
                continue;
            };
            let before = out.chars().last();
            if before.is_some_and(|c| is_ident(c) || c == '.') || after.starts_with(is_ident) {
                continue;
            }
            if !after.starts_with('[') {
                if out.ends_with("arrayLength(&") {
                    out.push_str(name);
                    rest = after;
                    continue 'scan;
                }
                return Err(format!("`{name}` is used other than as `{name}[i]`"));
            }
            if out.ends_with('&') {
                return Err(format!("a pointer into `{name}`"));
            }
            let end = matching(after, '[', ']')
                .ok_or_else(|| format!("unbalanced `[` after `{name}`"))?;
            let index = rewrite_code(&after[1..end], arrays)?;
            let tail = &after[end + 1..];
            let op = tail.trim_start();
            if op.starts_with('=') && !op.starts_with("==") {
                let value = &op[1..];
                let stop = statement_end(value)
                    .ok_or_else(|| format!("a store to `{name}` does not end on its line"))?;
                let v = rewrite_code(value[..stop].trim(), arrays)?;
                out.push_str(&format!("{name}[{index}] = {}({v})", a.pack));
                rest = &value[stop..];
            } else if ["+=", "-=", "*=", "/="].iter().any(|o| op.starts_with(o)) {
                return Err(format!("a compound assignment to `{name}`"));
            } else if op.starts_with('.') && component_store(op) {
                return Err(format!("a component store into `{name}`"));
            } else {
                out.push_str(&format!("{}({name}[{index}])", a.unpack));
                rest = tail;
            }
            continue 'scan;
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

/// Whether `s` (starting at a `.`) is a swizzle or field that is then assigned.
fn component_store(s: &str) -> bool {
    let field = s[1..].trim_start_matches(is_ident);
    let op = field.trim_start();
    op.starts_with('=') && !op.starts_with("==")
}

/// The wide flavour of `src` (a file as `ShaderFile::source` assembles it), with `helpers`
/// (`wide.wgsl`) appended, or why it has none.
pub fn wide_flavor(src: &str, helpers: &str) -> Result<String, String> {
    if src.contains("u64") {
        return Err("the file already moves 64-bit words".into());
    }
    let mut arrays = Vec::new();
    let mut decls = String::with_capacity(src.len() + helpers.len() + 64);
    for line in src.lines() {
        match vec4_decl(line) {
            Some(parsed) => {
                let (decl, array) = parsed?;
                decls.push_str(&decl);
                arrays.push(array);
            }
            None => decls.push_str(line),
        }
        decls.push('\n');
    }
    if arrays.is_empty() {
        return Err("no vec4 storage arrays".into());
    }
    let mut out = String::with_capacity(decls.len() + helpers.len() + 1024);
    for line in decls.lines() {
        let (code, comment) = match line.find("//") {
            Some(i) => line.split_at(i),
            None => (line, ""),
        };
        let decl = code.trim_start().starts_with("@group(");
        if decl {
            out.push_str(code);
        } else {
            let rewritten =
                rewrite_code(code, &arrays).map_err(|e| format!("{e} in `{}`", line.trim()))?;
            out.push_str(&rewritten);
        }
        out.push_str(comment);
        out.push('\n');
    }
    out.push_str(helpers);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELPERS: &str = "// helpers\n";

    #[test]
    fn reads_unpack_and_stores_pack_with_nested_arrays() {
        let src = "@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;\n\
                   @group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;\n\
                   @group(0) @binding(3) var<storage, read_write> arg: array<vec4<u32>>;\n\
                   @group(0) @binding(4) var<storage, read> idx: array<u32>;\n\
                   // y[i] = x[i] stays a comment\n\
                   fn f(i: u32) { if i < arrayLength(&y) { y[idx[i]] = x[i] * 2.0 + xs[0]; } arg[i] = vec4<u32>(x[i].x == 1.0); }\n";
        let out = wide_flavor(src, HELPERS).unwrap();
        assert!(
            out.contains("var<storage, read> x: array<vec2<u64>>;"),
            "{out}"
        );
        assert!(
            out.contains("var<storage, read_write> arg: array<vec2<u64>>;"),
            "{out}"
        );
        assert!(out.contains("var<storage, read> idx: array<u32>;"), "{out}");
        assert!(out.contains("// y[i] = x[i] stays a comment"), "{out}");
        assert!(
            out.contains(
                "if i < arrayLength(&y) { y[idx[i]] = pack4(unpack4(x[i]) * 2.0 + xs[0]); } \
                 arg[i] = pack4u(vec4<u32>(unpack4(x[i]).x == 1.0)); }"
            ),
            "{out}"
        );
        assert!(out.ends_with(HELPERS), "{out}");
    }

    #[test]
    fn other_uses_have_no_flavour() {
        let decl = "@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;\n";
        for (body, why) in [
            ("y[i] += v;", "compound"),
            ("y[i].x = 1.0;", "component store"),
            ("let p = &y[i];", "pointer"),
            ("g(y);", "other than"),
            ("y[i] = v +", "does not end"),
        ] {
            let err = wide_flavor(&format!("{decl}fn f() {{ {body}\n}}"), HELPERS).unwrap_err();
            assert!(err.contains(why), "{body}: {err}");
        }
        let ivec = "@group(0) @binding(1) var<storage, read> v: array<vec4<i32>>;\n";
        assert!(
            wide_flavor(ivec, HELPERS)
                .unwrap_err()
                .contains("vec4<i32>")
        );
        let scalar = "@group(0) @binding(1) var<storage, read> v: array<f32>;\n";
        assert!(wide_flavor(scalar, HELPERS).is_err());
        let words = "@group(0) @binding(1) var<storage, read> v: array<vec2<u64>>;\n";
        assert!(wide_flavor(words, HELPERS).unwrap_err().contains("64-bit"));
    }

    #[test]
    fn comparisons_and_swizzles_are_reads() {
        let src = "@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;\n\
                   fn f(i: u32) -> bool { return x[i].y == x[i + 1u][0]; }\n";
        let out = wide_flavor(src, HELPERS).unwrap();
        assert!(
            out.contains("return unpack4(x[i]).y == unpack4(x[i + 1u])[0];"),
            "{out}"
        );
    }
}
