//! NumPy's legacy `RandomState(seed).shuffle(list)`: the Mersenne Twister (MT19937) seeded as
//! `mt19937_seed` does for an integer seed, and the Fisher-Yates shuffle with NumPy's masked
//! rejection sampling (`random_interval`). Keras's `image_dataset_from_directory` shuffles the
//! file list this way before it takes the validation split, so the same seed puts the same
//! files in the same subset in kiln as in Keras (tested against Keras).

const N: usize = 624;
const M: usize = 397;

/// MT19937 with NumPy's integer seeding.
pub struct RandomState {
    key: [u32; N],
    pos: usize,
}

impl RandomState {
    /// `np.random.RandomState(seed)` for a seed in 0..2^32.
    pub fn new(seed: u32) -> Self {
        let mut key = [0u32; N];
        key[0] = seed;
        for i in 1..N {
            key[i] = 1_812_433_253u32
                .wrapping_mul(key[i - 1] ^ (key[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        RandomState { key, pos: N }
    }

    fn refill(&mut self) {
        let twist = |a: u32, b: u32, c: u32| {
            let y = (a & 0x8000_0000) | (b & 0x7fff_ffff);
            c ^ (y >> 1) ^ if y & 1 == 1 { 0x9908_b0df } else { 0 }
        };
        for i in 0..N {
            self.key[i] = twist(self.key[i], self.key[(i + 1) % N], self.key[(i + M) % N]);
        }
        self.pos = 0;
    }

    /// The next 32 random bits (`genrand_int32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.pos == N {
            self.refill();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// A value in 0..=max by NumPy's rule: mask to the smallest all-ones value >= max, draw
    /// until the value is <= max (32-bit draws, as NumPy uses for max < 2^32).
    pub fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for s in [1, 2, 4, 8, 16] {
            mask |= mask >> s;
        }
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `RandomState.shuffle` of a list: for i from n-1 down to 1, swap i with interval(i).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.interval(i as u32) as usize;
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy() {
        // np.random.RandomState(5489).randint(0, 2**32, size=3, dtype=np.uint64), NumPy 2.
        let mut r = RandomState::new(5489);
        assert_eq!(
            [r.next_u32(), r.next_u32(), r.next_u32()],
            [3_499_211_612, 581_869_302, 3_890_346_734]
        );
        // np.random.RandomState(0).shuffle(l) for l = list(range(10)) gives
        // [2, 8, 4, 9, 1, 6, 7, 3, 0, 5].
        let mut v: Vec<u32> = (0..10).collect();
        RandomState::new(0).shuffle(&mut v);
        assert_eq!(v, [2, 8, 4, 9, 1, 6, 7, 3, 0, 5]);
        // A longer list, past one refill of the state: l = list(range(1000)), seed 123.
        let mut v: Vec<u32> = (0..1000).collect();
        RandomState::new(123).shuffle(&mut v);
        assert_eq!(v[..8], [131, 203, 50, 585, 138, 632, 328, 461]);
        assert_eq!(v[997..], [382, 365, 510]);
    }
}
