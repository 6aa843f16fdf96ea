//! Bitcoin Core's REST interface (`-rest`): raw blocks and, from Core 30 on, the outputs each
//! block spends, as binary. Far cheaper for the node to serve than JSON-RPC's hex.

use std::time::Duration;

use bitcoin::consensus::{encode, Decodable};
use bitcoin::hashes::Hash;
use bitcoin::{Block, BlockHash, TxOut, VarInt};

use crate::node::NodeError;

/// The outputs a block's transactions spend: one list per transaction in block order (empty for
/// the coinbase), one entry per input in input order.
pub type SpentOutputs = Vec<Vec<TxOut>>;

/// A REST endpoint: the node's RPC address, without authentication.
#[derive(Debug, Clone)]
pub struct Rest {
    base: String,
    timeout: Duration,
}

/// What a GET gave: a body, or "not there" (HTTP 404).
enum Reply {
    Body(Vec<u8>),
    NotFound,
}

impl Rest {
    /// REST at the same address as the node's RPC.
    pub fn new(rpc_url: &str, timeout: Duration) -> Rest {
        let trimmed = rpc_url.trim_end_matches('/');
        let base = match trimmed.find("://") {
            Some(scheme) => match trimmed[scheme + 3..].find('/') {
                Some(path) => trimmed[..scheme + 3 + path].to_owned(),
                None => trimmed.to_owned(),
            },
            None => format!("http://{trimmed}"),
        };
        Rest { base, timeout }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn get(&self, path: &str) -> Result<Reply, NodeError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |reason: String| NodeError::Unreachable { url: self.base.clone(), reason };
        let response = minreq::get(&url)
            .with_timeout(self.timeout.as_secs().max(1))
            .send()
            .map_err(|e| unreachable(e.to_string()))?;
        let text = || String::from_utf8_lossy(response.as_bytes()).trim().to_owned();
        match response.status_code {
            200 => Ok(Reply::Body(response.into_bytes())),
            404 => Ok(Reply::NotFound),
            503 => Err(NodeError::WarmingUp(text())),
            code if code >= 500 => Err(unreachable(format!("HTTP {code}: {}", text()))),
            code => Err(NodeError::Rpc { code, message: format!("REST {path}: HTTP {code}: {}", text()) }),
        }
    }

    /// Whether the node serves REST at all, and whether it serves spent outputs (Core 30+).
    /// `genesis` is any block the node has.
    pub fn probe(&self, genesis: &BlockHash) -> Result<Option<bool>, NodeError> {
        match self.get("/rest/chaininfo.json")? {
            Reply::NotFound => Ok(None),
            Reply::Body(_) => match self.get(&format!("/rest/spenttxouts/{genesis}.bin"))? {
                Reply::Body(_) => Ok(Some(true)),
                Reply::NotFound => Ok(Some(false)),
            },
        }
    }

    /// Hash of the best-chain block at `height`, or `None` when the node's chain is shorter.
    pub fn block_hash(&self, height: u32) -> Result<Option<BlockHash>, NodeError> {
        match self.get(&format!("/rest/blockhashbyheight/{height}.bin"))? {
            Reply::Body(bytes) => {
                let hash: [u8; 32] = bytes.as_slice().try_into().map_err(|_| bad("block hash", "not 32 bytes"))?;
                Ok(Some(BlockHash::from_byte_array(hash)))
            }
            Reply::NotFound => Ok(None),
        }
    }

    /// A block, or `None` when the node no longer has it.
    pub fn block(&self, hash: &BlockHash) -> Result<Option<Block>, NodeError> {
        match self.get(&format!("/rest/block/{hash}.bin"))? {
            Reply::Body(bytes) => encode::deserialize(&bytes).map(Some).map_err(|e| bad("block", &e.to_string())),
            Reply::NotFound => Ok(None),
        }
    }

    /// The outputs `hash` spends, or `None` when the node has no undo data for it.
    pub fn spent_outputs(&self, hash: &BlockHash) -> Result<Option<SpentOutputs>, NodeError> {
        match self.get(&format!("/rest/spenttxouts/{hash}.bin"))? {
            Reply::Body(bytes) => {
                decode_spent_outputs(&bytes).map(Some).map_err(|e| bad("spent outputs", &e.to_string()))
            }
            Reply::NotFound => Ok(None),
        }
    }
}

fn bad(what: &str, why: &str) -> NodeError {
    NodeError::Other(format!("undecodable {what} from REST: {why}"))
}

/// Decodes `/rest/spenttxouts/<hash>.bin`: a count of transactions, then for each a list of
/// outputs, all in consensus encoding.
pub fn decode_spent_outputs(bytes: &[u8]) -> Result<SpentOutputs, encode::Error> {
    let mut reader = bytes;
    let count = VarInt::consensus_decode(&mut reader)?.0;
    // Each transaction's list takes at least one byte: a count beyond that is corrupt.
    if count > bytes.len() as u64 {
        return Err(encode::Error::ParseFailed("transaction count exceeds the data"));
    }
    let mut txs = Vec::with_capacity(count as usize);
    for _ in 0..count {
        txs.push(Vec::<TxOut>::consensus_decode(&mut reader)?);
    }
    if !reader.is_empty() {
        return Err(encode::Error::ParseFailed("trailing bytes after the spent outputs"));
    }
    Ok(txs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::consensus::Encodable;
    use bitcoin::{Amount, ScriptBuf};

    #[test]
    fn the_rest_base_is_the_rpc_address_without_a_wallet_path() {
        assert_eq!(Rest::new("http://127.0.0.1:8332", Duration::ZERO).url(), "http://127.0.0.1:8332");
        assert_eq!(Rest::new("http://127.0.0.1:8332/wallet/x", Duration::ZERO).url(), "http://127.0.0.1:8332");
        assert_eq!(Rest::new("127.0.0.1:18443/", Duration::ZERO).url(), "http://127.0.0.1:18443");
    }

    #[test]
    fn spent_outputs_decode_per_transaction_and_refuse_bad_data() {
        let out = |v| TxOut { value: Amount::from_sat(v), script_pubkey: ScriptBuf::from_bytes(vec![0x51]) };
        let expected: SpentOutputs = vec![vec![], vec![out(5), out(6)], vec![out(7)]];
        let mut bytes = Vec::new();
        VarInt(3).consensus_encode(&mut bytes).unwrap();
        for tx in &expected {
            tx.consensus_encode(&mut bytes).unwrap();
        }
        // Pinned: count 3, coinbase 0 outputs, then 2 outputs of 5 and 6 sat with script OP_1.
        assert_eq!(&bytes[..4], &[3, 0, 2, 5]);
        assert_eq!(decode_spent_outputs(&bytes).unwrap(), expected);
        assert!(decode_spent_outputs(&bytes[..bytes.len() - 1]).is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_spent_outputs(&trailing).is_err());
        assert!(decode_spent_outputs(&[0xfe, 0xff, 0xff, 0xff, 0x7f]).is_err());
    }
}
