//! Per-transaction heuristics: whether a transaction is a CoinJoin ([`coinjoin`]) and which of
//! its outputs is change ([`change`]). Both read a [`TxShape`], which the clusters stage builds
//! from a block's rows and `query` from stored rows, so both give the same answer.

pub mod change;
pub mod coinjoin;

use crate::storage::schema::{OutScript, ScriptNum, TxNum};
use crate::storage::store::{Store, StoreError};

/// The kind of an output script, as far as the heuristics care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScriptType {
    P2pk,
    P2pkh,
    P2sh,
    P2wpkh,
    P2wsh,
    P2tr,
    /// Bare multisig.
    Multisig,
    /// OP_RETURN: never spendable.
    OpReturn,
    /// Anything else, or not looked up.
    Other,
}

impl ScriptType {
    /// Classifies a script by its template.
    pub fn of(script: &[u8]) -> ScriptType {
        match script {
            [0x76, 0xa9, 0x14, .., 0x88, 0xac] if script.len() == 25 => ScriptType::P2pkh,
            [0xa9, 0x14, .., 0x87] if script.len() == 23 => ScriptType::P2sh,
            [0x00, 0x14, ..] if script.len() == 22 => ScriptType::P2wpkh,
            [0x00, 0x20, ..] if script.len() == 34 => ScriptType::P2wsh,
            [0x51, 0x20, ..] if script.len() == 34 => ScriptType::P2tr,
            [0x21, .., 0xac] if script.len() == 35 => ScriptType::P2pk,
            [0x41, .., 0xac] if script.len() == 67 => ScriptType::P2pk,
            [0x6a, ..] => ScriptType::OpReturn,
            [m, .., n, 0xae] if (0x51..=0x60).contains(m) && (0x51..=0x60).contains(n) => ScriptType::Multisig,
            _ => ScriptType::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ScriptType::P2pk => "p2pk",
            ScriptType::P2pkh => "p2pkh",
            ScriptType::P2sh => "p2sh",
            ScriptType::P2wpkh => "p2wpkh",
            ScriptType::P2wsh => "p2wsh",
            ScriptType::P2tr => "p2tr",
            ScriptType::Multisig => "multisig",
            ScriptType::OpReturn => "op_return",
            ScriptType::Other => "other",
        }
    }
}

/// An input's spent coin, or an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coin {
    pub value: u64,
    /// The script's number; `None` for an unspendable (OP_RETURN) output.
    pub script: Option<ScriptNum>,
    /// [`ScriptType::Other`] when the caller did not look the script up.
    pub kind: ScriptType,
}

/// An output, and whether this transaction is the first ever to pay its script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutCoin {
    pub coin: Coin,
    pub fresh: bool,
}

/// What the heuristics see of a transaction. A coinbase has no inputs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxShape {
    pub inputs: Vec<Coin>,
    pub outputs: Vec<OutCoin>,
}

impl TxShape {
    pub fn is_coinbase(&self) -> bool {
        self.inputs.is_empty()
    }

    /// A stored transaction's shape, with every script's kind. An output is fresh when its
    /// script's history starts with this transaction (so this reads the addresses stage).
    pub fn load(store: &Store, num: TxNum) -> Result<TxShape, StoreError> {
        let kind = |script: ScriptNum| -> Result<ScriptType, StoreError> {
            Ok(store.script(script)?.map(|s| ScriptType::of(&s)).unwrap_or(ScriptType::Other))
        };
        let mut inputs = Vec::new();
        for (_, input) in store.inputs(num)? {
            let prev = store.output_entries(input.prev.txnum)?.unwrap_or_default();
            let script = match prev.0.get(input.prev.index as usize).map(|o| &o.script) {
                Some(OutScript::Num(s)) => Some(*s),
                _ => None,
            };
            let kind = script.map(kind).transpose()?.unwrap_or(ScriptType::Other);
            inputs.push(Coin { value: input.value, script, kind });
        }
        let mut outputs = Vec::new();
        for out in store.output_entries(num)?.unwrap_or_default().0 {
            outputs.push(match out.script {
                OutScript::Num(script) => {
                    let first = store.history(script, 0, 1)?.first().map(|(k, _)| k.txnum);
                    let coin = Coin { value: out.value, script: Some(script), kind: kind(script)? };
                    OutCoin { coin, fresh: first == Some(num) }
                }
                OutScript::Unspendable(_) => {
                    OutCoin { coin: Coin { value: out.value, script: None, kind: ScriptType::OpReturn }, fresh: false }
                }
            });
        }
        Ok(TxShape { inputs, outputs })
    }

    /// Outputs that can be spent (not OP_RETURN), with their index.
    pub fn spendable_outputs(&self) -> impl Iterator<Item = (u32, &OutCoin)> {
        self.outputs.iter().enumerate().filter(|(_, o)| o.coin.script.is_some()).map(|(i, o)| (i as u32, o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_types_follow_the_templates() {
        let mut p2pkh = vec![0x76, 0xa9, 0x14];
        p2pkh.extend([7; 20]);
        p2pkh.extend([0x88, 0xac]);
        assert_eq!(ScriptType::of(&p2pkh), ScriptType::P2pkh);
        let mut p2wpkh = vec![0x00, 0x14];
        p2wpkh.extend([7; 20]);
        assert_eq!(ScriptType::of(&p2wpkh), ScriptType::P2wpkh);
        let mut p2pk = vec![0x21, 0x02];
        p2pk.extend([7; 32]);
        p2pk.push(0xac);
        assert_eq!(ScriptType::of(&p2pk), ScriptType::P2pk);
        let mut p2tr = vec![0x51, 0x20];
        p2tr.extend([7; 32]);
        assert_eq!(ScriptType::of(&p2tr), ScriptType::P2tr);
        assert_eq!(ScriptType::of(&[0x6a, 0x01, 0x00]), ScriptType::OpReturn);
        assert_eq!(ScriptType::of(&[0x51]), ScriptType::Other);
    }
}
