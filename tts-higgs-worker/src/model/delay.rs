//! The delay pattern (MusicGen's): codebook `k` runs `k` steps behind codebook 0, the gap at the
//! start filled with the stream BOS id and the tail with the stream EOS id.

/// Applies the delay pattern to `codes` (`[codebook][frame]`, all rows the same length):
/// the result has `frames + num_codebooks - 1` columns, row `k` is `k` BOS ids, the codes, then
/// EOS ids. Same as the reference's `build_delay_pattern_mask(...)[0]`.
pub fn apply_delay_pattern(codes: &[Vec<u32>], bos: u32, eos: u32) -> Vec<Vec<u32>> {
    let n = codes.len();
    let frames = codes.first().map_or(0, Vec::len);
    let width = frames + n.saturating_sub(1);
    codes
        .iter()
        .enumerate()
        .map(|(k, row)| {
            let mut out = Vec::with_capacity(width);
            out.extend(std::iter::repeat_n(bos, k));
            out.extend_from_slice(row);
            out.resize(width, eos);
            out
        })
        .collect()
}

/// Undoes the delay pattern: row `k` of the result is `delayed[k][k .. k + width - n + 1]`
/// (the reference's `revert_delay_pattern`). Rows shorter than that yield an empty result.
pub fn revert_delay_pattern(delayed: &[Vec<u32>]) -> Vec<Vec<u32>> {
    let n = delayed.len();
    let width = delayed.iter().map(Vec::len).min().unwrap_or(0);
    if width + 1 < n {
        return vec![Vec::new(); n];
    }
    let frames = width + 1 - n;
    delayed
        .iter()
        .enumerate()
        .map(|(k, row)| row[k..k + frames].to_vec())
        .collect()
}

/// Frame `frame` (0-based, after the leading BOS column) of a delayed sequence whose column 0 is
/// the all-BOS column: codebook `k` sits at column `frame + 1 + k`. `None` until that frame's
/// last codebook has been generated.
pub fn delayed_frame(columns: &[Vec<u32>], frame: usize) -> Option<Vec<u32>> {
    let n = columns.first()?.len();
    if columns.len() < frame + n + 1 {
        return None;
    }
    Some((0..n).map(|k| columns[frame + 1 + k][k]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let codes = vec![vec![1, 2, 3], vec![4, 5, 6], vec![7, 8, 9]];
        let d = apply_delay_pattern(&codes, 100, 101);
        assert_eq!(
            d,
            vec![
                vec![1, 2, 3, 101, 101],
                vec![100, 4, 5, 6, 101],
                vec![100, 100, 7, 8, 9]
            ]
        );
        assert_eq!(revert_delay_pattern(&d), codes);
    }

    #[test]
    fn frames_from_columns() {
        // Columns as generation produces them: column 0 all BOS, then the delayed columns.
        let codes = vec![vec![1, 2], vec![3, 4]];
        let d = apply_delay_pattern(&codes, 9, 8);
        let mut cols = vec![vec![9, 9]];
        cols.extend((0..d[0].len()).map(|c| vec![d[0][c], d[1][c]]));
        assert_eq!(delayed_frame(&cols, 0), Some(vec![1, 3]));
        assert_eq!(delayed_frame(&cols, 1), Some(vec![2, 4]));
        assert_eq!(delayed_frame(&cols[..2], 0), None);
    }
}
