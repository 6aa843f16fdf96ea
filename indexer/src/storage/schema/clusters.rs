//! Row layouts of the clusters stage: a union-find forest over script numbers (parents, the
//! children that list members, each root's size and earliest script), the links that explain
//! every merge, P2PK scripts by key hash, and the stage's own state.

use super::{check_len, corrupt, num_at, put_num, put_varint, take_varint, Codec, DecodeError, ScriptNum, TxNum};

/// Two script numbers: (parent, child) in `cluster_children`, (from, to) in `cluster_links`.
/// Keys sort by the first, so one prefix scan lists a script's children or links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScriptPair(pub ScriptNum, pub ScriptNum);

impl Codec for ScriptPair {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_num(out, self.0);
        put_num(out, self.1);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("script pair", b, 10)?;
        Ok(ScriptPair(num_at(b, 0), num_at(b, 5)))
    }
}

/// A cluster of two or more scripts, stored under its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterRow {
    /// How many scripts it holds.
    pub size: u64,
    /// Its earliest script (the lowest number): the cluster's stable id. A merge keeps the lower
    /// of the two, so a block that does not touch the cluster never changes it.
    pub first: ScriptNum,
}

impl ClusterRow {
    /// A script in no cluster is a cluster of one.
    pub fn single(script: ScriptNum) -> ClusterRow {
        ClusterRow { size: 1, first: script }
    }
}

impl Codec for ClusterRow {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_varint(out, self.size);
        put_varint(out, self.first);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut rest = b;
        let row = ClusterRow { size: take_varint("clusters", &mut rest)?, first: take_varint("clusters", &mut rest)? };
        if !rest.is_empty() {
            return Err(corrupt("clusters", "trailing bytes"));
        }
        Ok(row)
    }
}

/// A cluster's place in `cluster_sizes`: the size inverted, so the largest sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SizeKey {
    pub size: u64,
    pub root: ScriptNum,
}

impl Codec for SizeKey {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(!self.size).to_be_bytes());
        put_num(out, self.root);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("cluster size key", b, 13)?;
        let size = !u64::from_be_bytes(b[..8].try_into().expect("length checked"));
        Ok(SizeKey { size, root: num_at(b, 8) })
    }
}

/// Why two scripts were put in one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkReason {
    /// Both were spent from in one transaction (multi-input heuristic).
    SpentTogether = 0,
    /// Both are scripts of one public key (P2PK, P2PKH, P2WPKH).
    SameKey = 1,
    /// The transaction spent from the first and sent its change to the second.
    Change = 2,
}

impl LinkReason {
    pub fn name(self) -> &'static str {
        match self {
            LinkReason::SpentTogether => "spent_together",
            LinkReason::SameKey => "same_key",
            LinkReason::Change => "change",
        }
    }
}

/// The transaction that joined two scripts, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkRow {
    pub txnum: TxNum,
    pub reason: LinkReason,
}

impl Codec for LinkRow {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_varint(out, self.txnum);
        out.push(self.reason as u8);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut rest = b;
        let txnum = take_varint("cluster_links", &mut rest)?;
        let reason = match rest {
            [0] => LinkReason::SpentTogether,
            [1] => LinkReason::SameKey,
            [2] => LinkReason::Change,
            _ => return Err(corrupt("cluster_links", format!("bad reason {rest:?}"))),
        };
        Ok(LinkRow { txnum, reason })
    }
}

/// The hash160 of a public key, as P2PKH and P2WPKH scripts carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyHash(pub [u8; 20]);

impl Codec for KeyHash {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("key hash", b, 20)?;
        Ok(KeyHash(b.try_into().expect("length checked")))
    }
}

/// What the clusters stage was built with, and how far it has read the script numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterState {
    /// [`ClusterState::HEURISTICS_VERSION`] when the stage was built.
    pub version: u16,
    /// Whether change outputs were merged with their transaction's inputs.
    pub change: bool,
    /// Scripts numbered below this have been seen: an output paying a script at or above it is
    /// the script's first appearance.
    pub next_script: ScriptNum,
}

impl ClusterState {
    /// Bumped whenever a rule that decides a merge changes: clusters built by another version
    /// are rebuilt, not mixed.
    pub const HEURISTICS_VERSION: u16 = 1;
}

impl Codec for ClusterState {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_be_bytes());
        out.push(u8::from(self.change));
        put_num(out, self.next_script);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("cluster_state", b, 8)?;
        let change = match b[2] {
            0 => false,
            1 => true,
            f => return Err(corrupt("cluster_state", format!("bad flag {f}"))),
        };
        Ok(ClusterState { version: u16::from_be_bytes([b[0], b[1]]), change, next_script: num_at(b, 3) })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::round_trip;
    use super::*;

    #[test]
    fn cluster_rows_are_pinned_and_round_trip() {
        round_trip(ScriptPair(2, 0x0102), &[0, 0, 0, 0, 2, 0, 0, 0, 1, 2]);
        round_trip(ClusterRow { size: 300, first: 5 }, &[0xac, 0x02, 5]);
        round_trip(SizeKey { size: 1, root: 3 }, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0, 3]);
        assert!(SizeKey { size: 9, root: 0 }.encode() < SizeKey { size: 2, root: 0 }.encode(), "largest first");
        round_trip(LinkRow { txnum: 7, reason: LinkReason::SameKey }, &[7, 1]);
        round_trip(KeyHash([4; 20]), &[4; 20]);
        round_trip(ClusterState { version: 1, change: true, next_script: 9 }, &[0, 1, 1, 0, 0, 0, 0, 9]);
        assert!(ClusterRow::decode(&[1, 2, 3]).is_err());
        assert!(LinkRow::decode(&[1, 3]).is_err());
        assert!(ClusterState::decode(&[0, 1, 2, 0, 0, 0, 0, 9]).is_err());
    }
}
