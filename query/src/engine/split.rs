//! Splitting an amount of satoshis over parts in proportion to their weights, in whole satoshis,
//! so that the pieces always add up to the amount exactly.

/// Splits `value` over `weights.len()` parts in proportion to the weights (their sum is the
/// whole), writing one piece per part to `out` (cleared first).
///
/// Each part first gets `floor(value × weight / whole)`; the satoshis left over (fewer than the
/// number of parts) go one by one to the parts with the largest fractional remainders
/// (`value × weight mod whole`), ties to the lower index. A caller that lists the fee last thus
/// hands it a leftover satoshi only when no output has a larger remainder. The products are
/// taken in `u128`, so nothing overflows.
///
/// The pieces add up to `value`. With no weight at all (every weight 0) the whole value goes to
/// the last part; with no parts, `out` stays empty and the caller keeps the value.
pub fn split(value: u64, weights: &[u64], out: &mut Vec<u64>) {
    out.clear();
    if weights.is_empty() {
        return;
    }
    let whole: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if whole == 0 {
        out.resize(weights.len(), 0);
        if let Some(last) = out.last_mut() {
            *last = value;
        }
        return;
    }
    let value_wide = u128::from(value);
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    let mut given: u64 = 0;
    for (i, &w) in weights.iter().enumerate() {
        let product = value_wide * u128::from(w);
        // A piece is at most `value` (its weight is at most the whole): it fits in u64.
        let piece = u64::try_from(product / whole).expect("a piece never exceeds the value");
        out.push(piece);
        given += piece;
        remainders.push((product % whole, i));
    }
    let left = value - given;
    if left == 0 {
        return;
    }
    // Largest remainder first; equal remainders in index order.
    remainders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take(usize::try_from(left).unwrap_or(usize::MAX)) {
        out[i] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(value: u64, weights: &[u64]) -> Vec<u64> {
        let mut out = vec![99];
        split(value, weights, &mut out);
        out
    }

    #[test]
    fn even_splits_are_exact_and_uneven_ones_hand_out_the_leftover_by_remainder() {
        assert_eq!(pieces(100, &[1, 1, 2]), vec![25, 25, 50]);
        // 10 × 1/3 each: floors 3, 3, 3; one satoshi left, equal remainders: the first part.
        assert_eq!(pieces(10, &[1, 1, 1]), vec![4, 3, 3]);
        // 7 over 3:5:2 is 2.1, 3.5 and 1.4: floors 2, 3, 1, then the leftover satoshi to the
        // largest remainder (3.5).
        assert_eq!(pieces(7, &[3, 5, 2]), vec![2, 4, 1]);
        // 5 over 1:1:1:0: floors 1, 1, 1, 0; two satoshis left, equal remainders: parts 0 and 1.
        assert_eq!(pieces(5, &[1, 1, 1, 0]), vec![2, 2, 1, 0]);
    }

    #[test]
    fn the_last_part_loses_ties_so_a_fee_listed_last_gets_leftovers_last() {
        // 1 satoshi over three equal parts, the fee last: the first output gets it.
        assert_eq!(pieces(1, &[10, 10, 10]), vec![1, 0, 0]);
        // 2 over output 10, output 10, fee 10: both outputs, not the fee.
        assert_eq!(pieces(2, &[10, 10, 10]), vec![1, 1, 0]);
        // The fee wins when its remainder is larger.
        assert_eq!(pieces(1, &[10, 10, 20]), vec![0, 0, 1]);
    }

    #[test]
    fn pieces_always_add_up_and_zero_weights_get_nothing() {
        let weights = [0, 7, 0, 13, 1, 999_999_937, 0];
        for value in [0, 1, 2, 3, 17, 1_000, 999_999_999, 2_100_000_000_000_000, u64::MAX] {
            let p = pieces(value, &weights);
            assert_eq!(p.iter().map(|&x| u128::from(x)).sum::<u128>(), u128::from(value), "{value}");
            for (w, x) in weights.iter().zip(&p) {
                if *w == 0 {
                    assert_eq!(*x, 0);
                }
            }
        }
    }

    #[test]
    fn degenerate_inputs_keep_the_sum() {
        assert!(pieces(5, &[]).is_empty());
        assert_eq!(pieces(5, &[0, 0]), vec![0, 5]);
        assert_eq!(pieces(0, &[3, 4]), vec![0, 0]);
        assert_eq!(pieces(u64::MAX, &[u64::MAX, u64::MAX]), vec![u64::MAX / 2 + 1, u64::MAX / 2]);
    }
}
