//! Test chains: regtest blocks built in memory, indexed through the indexer's own apply path into
//! a database in a temporary directory. Shared by the unit tests and the binary's tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::hashes::Hash;
use bitcoin::script::PushBytesBuf;
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, Block, BlockHash, CompactTarget, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn,
    TxMerkleNode, TxOut, Txid, WPubkeyHash, Witness,
};
use indexer::stages::StageConfig;
use indexer::storage::kv::WriteMode;
use indexer::storage::schema::Meta;
use indexer::storage::store::Store;
use indexer::writer::Writer;

/// What a coinbase pays when the test does not say.
pub const SUBSIDY: u64 = 50 * 100_000_000;

/// A distinct P2WPKH script for wallet number `n`.
pub fn script(n: u32) -> ScriptBuf {
    let mut hash = [0u8; 20];
    hash[..4].copy_from_slice(&n.to_be_bytes());
    hash[19] = 0xa5;
    ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array(hash))
}

/// The regtest address of [`script`]`(n)`.
pub fn address(n: u32) -> String {
    Address::from_script(&script(n), Network::Regtest).expect("p2wpkh has an address").to_string()
}

/// A regtest chain being built: genesis at height 0, then one block per [`TestChain::mine`].
pub struct TestChain {
    /// The temporary directory holding the database, removed on drop (none for [`TestChain::create`]).
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    store: Store,
    meta: Meta,
    tip: BlockHash,
    height: u32,
    queued: Vec<Transaction>,
    stages: StageConfig,
}

impl TestChain {
    /// A chain in a new temporary directory.
    pub fn new() -> Self {
        TestChain::with_stages(StageConfig::default())
    }

    /// A chain in a new temporary directory, indexed with these derived stages.
    pub fn with_stages(stages: StageConfig) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("db");
        TestChain::open(Some(dir), path, stages)
    }

    /// A chain in a new database at `path`, kept after the program ends.
    pub fn create(path: &Path) -> Self {
        TestChain::open(None, path.to_owned(), StageConfig::default())
    }

    fn open(dir: Option<tempfile::TempDir>, path: PathBuf, stages: StageConfig) -> Self {
        let store = Store::open_writable(&path, 64 << 20).expect("open a new database");
        let genesis = bitcoin::constants::genesis_block(Network::Regtest);
        let meta = Meta::empty("regtest", genesis.block_hash().to_byte_array());
        let mut chain =
            TestChain { dir, path, store, meta, tip: BlockHash::all_zeros(), height: 0, queued: Vec::new(), stages };
        chain.apply(&genesis, 0);
        chain
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn db_path(&self) -> &Path {
        &self.path
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Closes the writer: (guard of the temporary directory, database path).
    pub fn finish(self) -> (Option<tempfile::TempDir>, PathBuf) {
        drop(self.store);
        (self.dir, self.path)
    }

    /// Hands over the open store and the guard of its temporary directory.
    pub fn into_store(self) -> (Option<tempfile::TempDir>, Store) {
        (self.dir, self.store)
    }

    fn apply(&mut self, block: &Block, height: u32) {
        let mut pending = Writer::new(&self.store, self.meta.clone(), self.stages).expect("read the sealed mark");
        pending.apply(block, None, height, true, 100).expect("apply a test block");
        pending.commit(WriteMode::Tip).expect("commit a test block");
        self.meta = pending.meta().clone();
        self.tip = block.block_hash();
        self.height = height;
    }

    /// Queues a transaction for the next block; each output is (script, value).
    pub fn send(&mut self, inputs: &[OutPoint], outputs: &[(ScriptBuf, u64)]) -> Txid {
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: inputs
                .iter()
                .map(|&previous_output| TxIn {
                    previous_output,
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::MAX,
                    witness: Witness::new(),
                })
                .collect(),
            output: outputs
                .iter()
                .map(|(s, v)| TxOut { value: Amount::from_sat(*v), script_pubkey: s.clone() })
                .collect(),
        };
        let txid = tx.compute_txid();
        self.queued.push(tx);
        txid
    }

    /// Mines the queued transactions in a block whose coinbase pays `reward` to `script`;
    /// returns the coinbase's txid.
    pub fn mine_to(&mut self, script: ScriptBuf, reward: u64) -> Txid {
        let height = self.height + 1;
        let mut tag = PushBytesBuf::new();
        tag.extend_from_slice(&height.to_le_bytes()).expect("four bytes fit");
        let coinbase = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: ScriptBuf::builder().push_slice(tag).into_script(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut { value: Amount::from_sat(reward), script_pubkey: script }],
        };
        let coinbase_txid = coinbase.compute_txid();
        let mut txdata = vec![coinbase];
        txdata.append(&mut self.queued);
        let header = Header {
            version: BlockVersion::from_consensus(0x2000_0000),
            prev_blockhash: self.tip,
            merkle_root: TxMerkleNode::all_zeros(),
            time: 1_700_000_000 + height,
            bits: CompactTarget::from_consensus(0x207f_ffff),
            nonce: 0,
        };
        let mut block = Block { header, txdata };
        block.header.merkle_root = block.compute_merkle_root().expect("a block has a coinbase");
        self.apply(&block, height);
        coinbase_txid
    }

    /// Mines the queued transactions; the coinbase pays an otherwise unused script.
    pub fn mine(&mut self) -> Txid {
        self.mine_to(script(u32::MAX), SUBSIDY)
    }

    /// Mines a block whose coinbase pays `value` to `script`; returns that output.
    pub fn coin(&mut self, script: ScriptBuf, value: u64) -> OutPoint {
        OutPoint { txid: self.mine_to(script, value), vout: 0 }
    }
}

impl Default for TestChain {
    fn default() -> Self {
        TestChain::new()
    }
}

/// An outpoint of `txid`.
pub fn out(txid: Txid, vout: u32) -> OutPoint {
    OutPoint { txid, vout }
}

/// The path of the database as a string, for command lines.
pub fn path_str(path: &Path) -> String {
    path.to_str().expect("temporary paths are UTF-8").to_string()
}
