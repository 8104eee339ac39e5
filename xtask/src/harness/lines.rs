//! The numbered lines' parts that both commands share: the filler that follows the sequence
//! number (its length and bytes a hash of the number, so a line checks itself), and parsing
//! the digits.

/// The filler's alphabet, repeated so that any 200-byte window from an offset below 64 fits.
pub(crate) const FILLER_SOURCE: [u8; 320] = {
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    let mut out = [0u8; 320];
    let mut i = 0;
    while i < out.len() {
        out[i] = alphabet[i % alphabet.len()];
        i += 1;
    }
    out
};

/// SplitMix64's finalizer: a well-spread hash of `x`.
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The filler of line `seq`: 20-200 bytes, a window of [`FILLER_SOURCE`] chosen by a hash.
pub(crate) fn filler(seq: u64) -> &'static [u8] {
    let h = mix(seq);
    let len = 20 + (h % 181) as usize;
    let offset = ((h >> 32) % 64) as usize;
    &FILLER_SOURCE[offset..offset + len]
}

/// The number written in ASCII digits in `b` (no sign, no separators).
pub(crate) fn digits(b: &[u8]) -> Option<u64> {
    b.iter().try_fold(0u64, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u64::from(c - b'0'))
    })
}
