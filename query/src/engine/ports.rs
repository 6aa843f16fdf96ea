//! The ports a trace passes a transaction through: its outputs (forward) or its inputs
//! (backward), each with its value, its script, what it connects to, and whether the trace
//! follows it or the branch ends there, and why.
//!
//! The decision is made per port, so a stop address, a small value or `--follow largest` ends
//! one branch while the tx's other ports go on.

use indexer::storage::schema::{OutScript, OutputsRow, ScriptNum, TxNum};
use indexer::storage::store::{SpendsCursor, Store, StoreError};

use super::Direction;

/// Why a branch of a trace ends at a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum End {
    /// Forward: the output is unspent (as of the indexed tip): the money sits there.
    Unspent,
    /// Forward: an OP_RETURN output, which nothing can spend.
    Unspendable,
    /// It pays (forward) or spends from (backward) a stop script.
    Stopped,
    /// It carries less than the minimum value.
    BelowMinValue,
    /// Not among the largest of its tx (`--follow largest`, `--top N`).
    NotFollowed,
    /// Its tx is at the last hop.
    HopLimit,
    /// The tx it leads to was left out at the cap on txs.
    MaxTxs,
    /// Backward: the tx is a coinbase: newly mined coins.
    Coinbase,
}

impl End {
    pub fn name(self) -> &'static str {
        match self {
            End::Unspent => "unspent",
            End::Unspendable => "unspendable",
            End::Stopped => "stopped",
            End::BelowMinValue => "below_min_value",
            End::NotFollowed => "not_followed",
            End::HopLimit => "hop_limit",
            End::MaxTxs => "max_txs",
            End::Coinbase => "coinbase",
        }
    }
}

/// Which ports of each tx a trace follows, by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    All,
    /// The N largest (ties to the lower index); `Top(1)` is the main flow.
    Top(u32),
}

/// An output (forward) or input (backward) of a traced tx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The output index forward, the input index backward.
    pub index: u32,
    pub value: u64,
    /// Forward: the output's script. Backward: the script of the output the input spent, read
    /// when the trace has stop scripts or the branch ends here; `None` otherwise and for a
    /// coinbase.
    pub script: Option<OutScript>,
    /// Forward: the tx and input that spent the output; backward: the tx and output the input
    /// spent. `None` when unspent, and for a coinbase's port.
    pub other: Option<(TxNum, u32)>,
    /// Where the branch ends; `None` while the trace follows the port to `other`.
    pub end: Option<End>,
}

impl Port {
    /// The number of its script, when it has one.
    pub fn script_num(&self) -> Option<ScriptNum> {
        match self.script {
            Some(OutScript::Num(n)) => Some(n),
            _ => None,
        }
    }
}

/// The ports of one tx, and what the traced value entering it can also go to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxPorts {
    pub ports: Vec<Port>,
    /// Forward: the tx's fee. Backward: 0.
    pub fee: u64,
}

/// What decides a port's fate, besides the tx's place in the trace.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub direction: Direction,
    pub min_value: u64,
    pub select: Select,
    /// Sorted, without repeats.
    pub stop: &'a [ScriptNum],
}

impl Rules<'_> {
    fn stops(&self, script: &Option<OutScript>) -> bool {
        matches!(script, Some(OutScript::Num(s)) if self.stop.binary_search(s).is_ok())
    }
}

/// Reads ports. Holds a cursor: make one per thread.
pub struct Reader<'s> {
    store: &'s Store,
    spends: SpendsCursor<'s>,
}

impl<'s> Reader<'s> {
    pub fn new(store: &'s Store) -> Self {
        Reader { store, spends: store.spends_cursor() }
    }

    /// The ports of `num` with the rules' decisions made; ports the trace follows have no `end`.
    pub fn ports(&mut self, num: TxNum, rules: &Rules) -> Result<TxPorts, StoreError> {
        let mut tx = match rules.direction {
            Direction::Forward => self.outputs(num)?,
            Direction::Backward => self.inputs(num, !rules.stop.is_empty())?,
        };
        decide(&mut tx.ports, rules);
        if rules.direction == Direction::Backward {
            self.name_ends(&mut tx)?;
        }
        Ok(tx)
    }

    /// Backward: reads the script of each input whose branch ends, for the destination's address.
    pub fn name_ends(&self, tx: &mut TxPorts) -> Result<(), StoreError> {
        for port in tx.ports.iter_mut().filter(|p| p.end.is_some() && p.script.is_none()) {
            if let Some((prev, vout)) = port.other {
                port.script = self.prev_script(prev, vout)?;
            }
        }
        Ok(())
    }

    /// Outputs with their spenders; the fee from the inputs row.
    fn outputs(&mut self, num: TxNum) -> Result<TxPorts, StoreError> {
        let row = self.store.output_entries(num)?.unwrap_or_default();
        let mut ports: Vec<Port> = row
            .0
            .into_iter()
            .enumerate()
            .map(|(i, o)| Port { index: i as u32, value: o.value, script: Some(o.script), other: None, end: None })
            .collect();
        self.spends.for_each(num, |vout, by| {
            if let Some(port) = ports.get_mut(vout as usize) {
                port.other = Some((by.txnum, by.index));
            }
        })?;
        let inputs: u64 = self.store.inputs(num)?.iter().map(|(_, i)| i.value).sum();
        let outputs: u64 = ports.iter().map(|p| p.value).sum();
        Ok(TxPorts { ports, fee: inputs.saturating_sub(outputs) })
    }

    /// Inputs with the outputs they spent (and those outputs' scripts when `scripts`); a coinbase
    /// has one port, its newly mined coins.
    fn inputs(&mut self, num: TxNum, scripts: bool) -> Result<TxPorts, StoreError> {
        let inputs = self.store.inputs(num)?;
        if inputs.is_empty() {
            let minted = self.store.output_entries(num)?.unwrap_or_default().0.iter().map(|o| o.value).sum();
            let port = Port { index: 0, value: minted, script: None, other: None, end: Some(End::Coinbase) };
            return Ok(TxPorts { ports: vec![port], fee: 0 });
        }
        let mut ports = Vec::with_capacity(inputs.len());
        let mut last: Option<(TxNum, OutputsRow)> = None;
        for (vin, input) in inputs {
            let script = if scripts {
                let (prev, vout) = (input.prev.txnum, input.prev.index);
                if last.as_ref().map(|(n, _)| *n) != Some(prev) {
                    last = Some((prev, self.store.output_entries(prev)?.unwrap_or_default()));
                }
                last.as_ref().and_then(|(_, row)| row.0.get(vout as usize)).map(|o| o.script.clone())
            } else {
                None
            };
            ports.push(Port {
                index: vin,
                value: input.value,
                script,
                other: Some((input.prev.txnum, input.prev.index)),
                end: None,
            });
        }
        Ok(TxPorts { ports, fee: 0 })
    }

    fn prev_script(&self, prev: TxNum, vout: u32) -> Result<Option<OutScript>, StoreError> {
        Ok(self.store.output_entries(prev)?.and_then(|row| row.0.into_iter().nth(vout as usize)).map(|o| o.script))
    }
}

/// Decides each port that has no end yet: unspendable, stopped, unspent, below the minimum,
/// not among the selected largest, or followed (in that order of precedence).
pub fn decide(ports: &mut [Port], rules: &Rules) {
    let selected = selected(ports, rules.select);
    for (port, selected) in ports.iter_mut().zip(selected) {
        if port.end.is_some() {
            continue;
        }
        port.end = if matches!(port.script, Some(OutScript::Unspendable(_))) {
            Some(End::Unspendable)
        } else if rules.stops(&port.script) {
            Some(End::Stopped)
        } else if port.other.is_none() {
            Some(End::Unspent)
        } else if port.value < rules.min_value {
            Some(End::BelowMinValue)
        } else if !selected {
            Some(End::NotFollowed)
        } else {
            None
        };
    }
}

/// Which ports `select` keeps: all, or the N largest spendable ones (ties to the lower index).
fn selected(ports: &[Port], select: Select) -> Vec<bool> {
    let Select::Top(n) = select else { return vec![true; ports.len()] };
    let mut order: Vec<usize> =
        (0..ports.len()).filter(|&i| !matches!(ports[i].script, Some(OutScript::Unspendable(_)))).collect();
    order.sort_by(|&a, &b| ports[b].value.cmp(&ports[a].value).then(a.cmp(&b)));
    let mut keep = vec![false; ports.len()];
    for &i in order.iter().take(n as usize) {
        keep[i] = true;
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(index: u32, value: u64, script: ScriptNum, spent: bool) -> Port {
        Port { index, value, script: Some(OutScript::Num(script)), other: spent.then_some((99, index)), end: None }
    }

    fn ends(ports: &[Port]) -> Vec<Option<End>> {
        ports.iter().map(|p| p.end).collect()
    }

    #[test]
    fn each_port_ends_for_its_own_reason_and_the_rest_are_followed() {
        let rules = Rules { direction: Direction::Forward, min_value: 100, select: Select::All, stop: &[7] };
        let mut ports = vec![
            port(0, 5000, 7, true),
            port(1, 50, 2, true),
            port(2, 5000, 3, false),
            port(3, 5000, 4, true),
            Port { index: 4, value: 0, script: Some(OutScript::Unspendable(vec![0x6a])), other: None, end: None },
        ];
        decide(&mut ports, &rules);
        assert_eq!(
            ends(&ports),
            [Some(End::Stopped), Some(End::BelowMinValue), Some(End::Unspent), None, Some(End::Unspendable)]
        );
    }

    #[test]
    fn top_follows_the_largest_spendable_ports_with_ties_to_the_lower_index() {
        let rules = Rules { direction: Direction::Forward, min_value: 0, select: Select::Top(1), stop: &[] };
        let mut ports = vec![port(0, 10, 1, true), port(1, 900, 2, true), port(2, 900, 3, true)];
        decide(&mut ports, &rules);
        assert_eq!(ends(&ports), [Some(End::NotFollowed), None, Some(End::NotFollowed)]);
        // The largest output unspent: the main flow sits there, nothing else is followed.
        let mut ports = vec![port(0, 10, 1, true), port(1, 900, 2, false)];
        decide(&mut ports, &rules);
        assert_eq!(ends(&ports), [Some(End::NotFollowed), Some(End::Unspent)]);
        let two = Rules { select: Select::Top(2), ..rules };
        let mut ports = vec![port(0, 10, 1, true), port(1, 900, 2, true), port(2, 30, 3, true)];
        decide(&mut ports, &two);
        assert_eq!(ends(&ports), [Some(End::NotFollowed), None, None]);
    }
}
