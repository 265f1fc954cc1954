//! The one workgroup-count helper. WebGPU allows at most 65,535 workgroups per grid dimension,
//! so a 1-D launch larger than that is folded into 2-D; kernels rebuild the linear index as
//! `(wid.y * num_workgroups.x + wid.x) * 64 + local_index` and guard against overshoot.

/// Largest workgroup count in one grid dimension (WebGPU's guaranteed minimum limit).
pub const MAX_GROUPS_PER_DIM: u32 = 65_535;

/// Invocations per workgroup of every 1-D kernel (`@workgroup_size(64)`).
pub const WORKGROUP: u32 = 64;

/// Workgroup grid for `n` independent items at `WORKGROUP` items per workgroup.
pub fn grid_1d(n: usize) -> [u32; 3] {
    groups_2d(n.div_ceil(WORKGROUP as usize))
}

/// Grid holding `groups` workgroups, folded into 2-D when one dimension is not enough.
pub fn groups_2d(groups: usize) -> [u32; 3] {
    let max = MAX_GROUPS_PER_DIM as usize;
    if groups <= max {
        [groups.max(1) as u32, 1, 1]
    } else {
        [MAX_GROUPS_PER_DIM, groups.div_ceil(max) as u32, 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_launches_stay_one_dimensional() {
        assert_eq!(grid_1d(1), [1, 1, 1]);
        assert_eq!(grid_1d(64), [1, 1, 1]);
        assert_eq!(grid_1d(65), [2, 1, 1]);
        assert_eq!(grid_1d(64 * 65_535), [65_535, 1, 1]);
    }

    #[test]
    fn large_launches_fold_into_two_dimensions_and_cover_every_item() {
        let n = 64 * 65_535 + 1;
        let g = grid_1d(n);
        assert_eq!(g, [65_535, 2, 1]);
        assert!((g[0] as usize * g[1] as usize) * 64 >= n);
    }
}
