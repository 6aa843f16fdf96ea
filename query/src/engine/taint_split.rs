//! How one transaction passes taint from its inputs to its outputs and fee, under each model of
//! `query taint`. Pure functions of values, so that every rule can be pinned by hand.
//!
//! FIFO and LIFO need more than an amount per output: where the tainted satoshis sit inside an
//! output decides which slice of it the next transaction's outputs draw. So under those models an
//! output's taint is a [`Segments`] list: its value as runs of clean and tainted satoshis, in
//! order. A transaction lays its inputs' lists end to end (FIFO: in input order; LIFO: from the
//! last input to the first, each input's own runs kept in their order), then cuts that line into
//! its outputs, in output order, and the fee, last.

use super::split::split;

/// An amount of satoshis as runs of clean and tainted ones, in order. Adjacent runs of the same
/// kind are merged and empty runs are dropped, so equal contents compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Segments(Vec<(u64, bool)>);

impl Segments {
    /// `len` satoshis, all clean.
    pub fn clean(len: u64) -> Self {
        let mut s = Segments::default();
        s.push(len, false);
        s
    }

    /// `len` satoshis, all tainted.
    pub fn tainted(len: u64) -> Self {
        let mut s = Segments::default();
        s.push(len, true);
        s
    }

    /// Builds a list from runs given in order (`(length, tainted)`).
    #[cfg(test)]
    pub fn of(runs: &[(u64, bool)]) -> Self {
        let mut s = Segments::default();
        for &(len, tainted) in runs {
            s.push(len, tainted);
        }
        s
    }

    /// Appends a run, merging it into the last one when both are of the same kind.
    pub fn push(&mut self, len: u64, tainted: bool) {
        if len == 0 {
            return;
        }
        match self.0.last_mut() {
            Some((last, kind)) if *kind == tainted => *last += len,
            _ => self.0.push((len, tainted)),
        }
    }

    /// The runs, in order.
    pub fn runs(&self) -> &[(u64, bool)] {
        &self.0
    }

    /// All satoshis, clean and tainted.
    pub fn value(&self) -> u64 {
        self.0.iter().map(|r| r.0).sum()
    }

    /// The tainted satoshis.
    pub fn tainted_sat(&self) -> u64 {
        self.0.iter().filter(|r| r.1).map(|r| r.0).sum()
    }
}

/// Poison: with any tainted input, every output is wholly tainted and so is the whole fee.
/// Returns each output's taint and the fee's.
pub fn split_poison(tainted: bool, outputs: &[u64], fee: u64) -> (Vec<u64>, u64) {
    if tainted {
        (outputs.to_vec(), fee)
    } else {
        (vec![0; outputs.len()], 0)
    }
}

/// Haircut: the `tainted` input value is shared by the outputs and the fee (last) in proportion to
/// their values, in whole satoshis by largest remainder (see [`split`]), so the shares add up to
/// `tainted` exactly. Returns each output's share and the fee's.
pub fn split_haircut(tainted: u64, outputs: &[u64], fee: u64) -> (Vec<u64>, u64) {
    let mut weights = outputs.to_vec();
    weights.push(fee);
    let mut pieces = Vec::with_capacity(weights.len());
    split(tainted, &weights, &mut pieces);
    let fee_share = pieces.pop().unwrap_or(0);
    (pieces, fee_share)
}

/// FIFO: the inputs laid end to end in input order; each output takes the next slice of its
/// value, in output order, and the fee the slice after them. Returns each output's runs and the
/// fee's tainted satoshis.
pub fn split_fifo(inputs: &[Segments], outputs: &[u64], fee: u64) -> (Vec<Segments>, u64) {
    cut(inputs.iter(), outputs, fee)
}

/// LIFO: as [`split_fifo`], with the inputs laid from the last to the first (each input's own
/// runs in their order); outputs still in order, the fee last.
pub fn split_lifo(inputs: &[Segments], outputs: &[u64], fee: u64) -> (Vec<Segments>, u64) {
    cut(inputs.iter().rev(), outputs, fee)
}

/// Cuts the line the inputs make into the outputs and then the fee. Should the line be shorter
/// than they are (never on a valid chain), the missing satoshis are clean.
fn cut<'a>(inputs: impl Iterator<Item = &'a Segments>, outputs: &[u64], fee: u64) -> (Vec<Segments>, u64) {
    let mut line = Line { runs: inputs.flat_map(|s| s.runs().iter().copied()), current: None };
    let slices = outputs.iter().map(|&value| line.draw(value)).collect();
    let fee_taint = line.draw(fee).tainted_sat();
    (slices, fee_taint)
}

/// The inputs' runs one after the other, drawn from the front.
struct Line<I> {
    runs: I,
    /// What is left of the run being drawn from.
    current: Option<(u64, bool)>,
}

impl<I: Iterator<Item = (u64, bool)>> Line<I> {
    /// The next `len` satoshis of the line.
    fn draw(&mut self, len: u64) -> Segments {
        let mut slice = Segments::default();
        let mut wanted = len;
        while wanted > 0 {
            let Some((left, tainted)) = self.current.take().or_else(|| self.runs.next()) else {
                slice.push(wanted, false);
                break;
            };
            let taken = left.min(wanted);
            slice.push(taken, tainted);
            wanted -= taken;
            if taken < left {
                self.current = Some((left - taken, tainted));
            }
        }
        slice
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taints(slices: &[Segments]) -> Vec<u64> {
        slices.iter().map(Segments::tainted_sat).collect()
    }

    /// Inputs 5,000 clean, 3,000 tainted, 2,000 clean (10,000); outputs 4,000, 3,500 and 1,500;
    /// fee 1,000.
    fn pinned() -> (Vec<Segments>, Vec<u64>, u64) {
        (vec![Segments::clean(5000), Segments::tainted(3000), Segments::clean(2000)], vec![4000, 3500, 1500], 1000)
    }

    #[test]
    fn fifo_cuts_the_inputs_in_order_into_the_outputs_then_the_fee() {
        let (inputs, outputs, fee) = pinned();
        let (slices, fee_taint) = split_fifo(&inputs, &outputs, fee);
        // The line: clean 0..5000, tainted 5000..8000, clean 8000..10000. Output 0 takes 0..4000,
        // output 1 4000..7500 (2,500 of it tainted), output 2 7500..9000 (500), the fee 9000..10000.
        assert_eq!(taints(&slices), [0, 2500, 500]);
        assert_eq!(fee_taint, 0);
        assert_eq!(slices[1], Segments::of(&[(1000, false), (2500, true)]));
        assert_eq!(slices[2], Segments::of(&[(500, true), (1000, false)]));
        assert_eq!(slices.iter().map(Segments::value).collect::<Vec<_>>(), outputs);
    }

    #[test]
    fn lifo_lays_the_inputs_from_the_last_and_still_pays_outputs_in_order_and_the_fee_last() {
        let (inputs, outputs, fee) = pinned();
        let (slices, fee_taint) = split_lifo(&inputs, &outputs, fee);
        // The line: clean 0..2000, tainted 2000..5000, clean 5000..10000. Output 0 takes 0..4000
        // (2,000 tainted), output 1 4000..7500 (1,000), output 2 7500..9000 (none), the fee none.
        assert_eq!(taints(&slices), [2000, 1000, 0]);
        assert_eq!(fee_taint, 0);
        assert_eq!(slices[0], Segments::of(&[(2000, false), (2000, true)]));
    }

    #[test]
    fn the_fee_is_the_last_slice_and_can_be_tainted() {
        // 3,000 clean then 2,000 tainted; outputs 2,500 and 1,500, fee 1,000.
        let inputs = [Segments::clean(3000), Segments::tainted(2000)];
        let (slices, fee_taint) = split_fifo(&inputs, &[2500, 1500], 1000);
        // FIFO: output 1 is 2500..4000 (1,000 tainted), the fee 4000..5000 (all tainted).
        assert_eq!((taints(&slices), fee_taint), (vec![0, 1000], 1000));
        // LIFO: the tainted input first: output 0 takes all 2,000 of it, the fee none.
        let (slices, fee_taint) = split_lifo(&inputs, &[2500, 1500], 1000);
        assert_eq!((taints(&slices), fee_taint), (vec![2000, 0], 0));
    }

    #[test]
    fn lifo_reverses_the_inputs_but_not_the_runs_inside_each() {
        // Input 0 is 1,000 clean then 500 tainted; input 1 is 1,500 clean.
        let inputs = [Segments::of(&[(1000, false), (500, true)]), Segments::clean(1500)];
        // LIFO line: clean 1500, then clean 1000, tainted 500: the taint is at the very end.
        let (slices, fee_taint) = split_lifo(&inputs, &[2900], 100);
        assert_eq!((taints(&slices), fee_taint), (vec![400], 100));
        // FIFO line: clean 1000, tainted 500, clean 1500.
        let (slices, fee_taint) = split_fifo(&inputs, &[1200, 1700], 100);
        assert_eq!((taints(&slices), fee_taint), (vec![200, 300], 0));
        assert_eq!(slices[1], Segments::of(&[(300, true), (1400, false)]));
    }

    #[test]
    fn haircut_shares_the_taint_by_value_and_the_shares_add_up_exactly() {
        // 3,000 tainted of 10,000: 30% of each output and of the fee.
        assert_eq!(split_haircut(3000, &[4000, 3500, 1500], 1000), (vec![1200, 1050, 450], 300));
        // 1,000 over 3,333 / 3,333 / 3,333 and a fee of 1: floors 333 each and 0, one satoshi
        // left; the outputs' remainders (3,000 of 10,000) beat the fee's (1,000), and of equal
        // ones the first output wins.
        assert_eq!(split_haircut(1000, &[3333, 3333, 3333], 1), (vec![334, 333, 333], 0));
        for tainted in [0, 1, 7, 999, 4321, 9999, 10_000] {
            let (outs, fee) = split_haircut(tainted, &[3333, 17, 6000, 1], 649);
            assert_eq!(outs.iter().sum::<u64>() + fee, tainted, "{tainted}");
        }
    }

    #[test]
    fn poison_taints_everything_or_nothing() {
        assert_eq!(split_poison(true, &[4000, 3500, 1500], 1000), (vec![4000, 3500, 1500], 1000));
        assert_eq!(split_poison(false, &[4000, 3500], 1000), (vec![0, 0], 0));
    }

    #[test]
    fn runs_merge_and_a_short_line_ends_clean() {
        let s = Segments::of(&[(5, true), (0, false), (7, true), (3, false), (2, false)]);
        assert_eq!(s.runs(), &[(12, true), (5, false)]);
        assert_eq!((s.value(), s.tainted_sat()), (17, 12));
        let (slices, fee_taint) = split_fifo(&[Segments::tainted(100)], &[60, 60], 10);
        assert_eq!(slices[1], Segments::of(&[(40, true), (20, false)]));
        assert_eq!(fee_taint, 0);
    }
}
