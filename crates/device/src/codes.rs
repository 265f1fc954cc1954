//! The numeric codes WGSL switches on (activation, unary, binary and reduction kinds, image
//! fill modes and interpolations), written
//! once, here. `wgsl_codes!` defines each as a Rust `const` and also as one line of a WGSL
//! prelude that `ShaderFile::source` puts in front of every shader, so a shader names
//! `ACT_RELU` or `UNARY_EXP` and can never disagree with the Rust side about its value. Every
//! switch over one of these families lists all of its codes and ends with a `default` arm that
//! returns NaN (`poison()`), so a code a switch forgot computes NaN, never a plausible wrong
//! function; `tests/shaders_valid.rs` checks that each switch lists its whole family.

/// Defines `pub const NAME: u32 = value;` for each entry, plus `FAMILIES` (each family's
/// prefix and its members) and `PRELUDE` (the same constants as WGSL source).
macro_rules! wgsl_codes {
    ($($family:literal { $($name:ident = $value:literal),+ $(,)? })+) => {
        $($(
            #[doc = concat!("WGSL code `", stringify!($name), "`.")]
            pub const $name: u32 = $value;
        )+)+

        /// Every family: its name prefix (`"ACT"`) and its (name, value) members.
        pub const FAMILIES: &[(&str, &[(&str, u32)])] = &[
            $(($family, &[$((stringify!($name), $value)),+])),+
        ];

        /// The WGSL prelude: one `const NAME: u32 = valueu;` per code, `poison()`, the
        /// flush-to-zero helpers `ftz` / `ftz4`, and the index division `udiv` /
        /// `split_nhwc`.
        pub const PRELUDE: &str = concat!(
            "// Generated from crates/device/src/codes.rs; do not edit in a shader.\n",
            $($("const ", stringify!($name), ": u32 = ", stringify!($value), "u;\n",)+)+
            "// NaN: what a switch's default arm returns for a code it does not know.\n",
            "fn poison() -> f32 { return bitcast<f32>(0x7fc00000u); }\n",
            "// Flush to zero below the smallest normal f32, for state that decays step by step\n",
            "// (optimizer slots, moving statistics): optim.wgsl's header says why.\n",
            "const FLT_MIN: f32 = 1.17549435e-38;\n",
            // (Parameter names no shader binds: the texture flavour scans every use of a name.)
            "fn ftz(ftz_v: f32) -> f32 { return select(ftz_v, 0.0, abs(ftz_v) < FLT_MIN); }\n",
            "fn ftz4(ftz_v: vec4<f32>) -> vec4<f32> {\n",
            "    return select(ftz_v, vec4<f32>(0.0), abs(ftz_v) < vec4<f32>(FLT_MIN));\n",
            "}\n",
            "// Division of u32s, for index arithmetic by params values. AVX2 has no\n",
            "// vector integer division, so on llvmpipe `/` and `%` are loops over the lanes, where\n",
            "// f32 division is one instruction. A launcher whose dividends are all below 2^20 sets\n",
            "// the pipeline constant SMALL_DIV (crates/device/src/overrides.rs); the quotient is then\n",
            "// u32((a + 0.5) / b) in f32, exact: a + 0.5 and b (or any b > a) are exact in f32, the\n",
            "// true quotient is at least 0.5 / b from an integer, and the division's error, 2.5 ulp\n",
            "// at most (Vulkan's bound), stays below 0.32 / b there.\n",
            "override SMALL_DIV: u32 = 0u;\n",
            "fn udiv(udiv_a: u32, udiv_b: u32) -> u32 {\n",
            "    if SMALL_DIV != 0u { return u32((f32(udiv_a) + 0.5) / f32(udiv_b)); }\n",
            "    return udiv_a / udiv_b;\n",
            "}\n",
            "// Flat index i = ((n * h + y) * w + x) * inner + r of an NHWC-like grid, split with\n",
            "// `udiv` as (n, y, x, r).\n",
            "fn split_nhwc(sp_i: u32, sp_inner: u32, sp_w: u32, sp_h: u32) -> vec4<u32> {\n",
            "    let sp_px = udiv(sp_i, sp_inner);\n",
            "    let sp_row = udiv(sp_px, sp_w);\n",
            "    let sp_n = udiv(sp_row, sp_h);\n",
            "    return vec4<u32>(sp_n, sp_row - sp_n * sp_h, sp_px - sp_row * sp_w, sp_i - sp_px * sp_inner);\n",
            "}\n",
        );
    };
}

wgsl_codes! {
    "ACT" {
        ACT_LINEAR = 0,
        ACT_RELU = 1,
        ACT_SIGMOID = 2,
        ACT_TANH = 3,
    }
    "UNARY" {
        UNARY_NEG = 16,
        UNARY_EXP = 17,
        UNARY_LOG = 18,
        UNARY_SQRT = 19,
        UNARY_LEAKY_RELU = 20,
        UNARY_CLAMP = 21,
        UNARY_POW = 22,
        UNARY_AFFINE = 23,
        UNARY_ABS = 24,
    }
    "BINARY" {
        BINARY_ADD = 0,
        BINARY_SUB = 1,
        BINARY_MUL = 2,
        BINARY_DIV = 3,
        BINARY_MAXIMUM = 4,
        BINARY_MINIMUM = 5,
    }
    "REDUCE" {
        REDUCE_SUM = 0,
        REDUCE_MEAN = 1,
        REDUCE_MAX = 2,
    }
    "FILL" {
        FILL_CONSTANT = 0,
        FILL_REFLECT = 1,
        FILL_WRAP = 2,
        FILL_NEAREST = 3,
    }
    "INTERP" {
        INTERP_BILINEAR = 0,
        INTERP_NEAREST = 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_within_a_family_and_named_by_its_prefix() {
        for (prefix, members) in FAMILIES {
            let mut seen = std::collections::HashSet::new();
            for (name, value) in *members {
                assert!(name.starts_with(&format!("{prefix}_")), "{name}");
                assert!(seen.insert(value), "{name} reuses code {value}");
            }
        }
    }

    #[test]
    fn activation_and_unary_codes_do_not_overlap() {
        // The unary kernel takes both families in one `op` field.
        let act: Vec<u32> = FAMILIES[0].1.iter().map(|m| m.1).collect();
        assert!(FAMILIES[1].1.iter().all(|(_, v)| !act.contains(v)));
    }

    #[test]
    fn the_prelude_defines_every_code() {
        for (_, members) in FAMILIES {
            for (name, value) in *members {
                assert!(
                    PRELUDE.contains(&format!("const {name}: u32 = {value}u;")),
                    "{name}"
                );
            }
        }
    }
}
