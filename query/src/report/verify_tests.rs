//! The checks of `verify` on hand-made blocks: a report that holds, and each way one fails.

use std::collections::HashMap;

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::transaction::Version;
use bitcoin::{Amount, ScriptBuf, Sequence, TxIn, TxOut, WPubkeyHash, Witness};

use super::*;
use crate::report::TaggedAddress;

/// A node holding hand-made blocks at given heights.
struct FakeNode {
    chain: String,
    best: Vec<BlockHash>,
    blocks: HashMap<BlockHash, Block>,
    fetched: usize,
    down: bool,
    /// Outputs spent at the node's tip.
    moved: Vec<OutPoint>,
}

impl ChainSource for FakeNode {
    fn chain(&mut self) -> Result<(String, u32), NodeError> {
        self.fail()?;
        Ok((self.chain.clone(), self.best.len() as u32 - 1))
    }

    fn hash_at(&mut self, height: u32) -> Result<Option<BlockHash>, NodeError> {
        self.fail()?;
        Ok(self.best.get(height as usize).copied())
    }

    fn fetch_block(&mut self, hash: &BlockHash) -> Result<Block, NodeError> {
        self.fail()?;
        self.fetched += 1;
        Ok(self.blocks[hash].clone())
    }

    fn unspent(&mut self, outpoint: &OutPoint) -> Result<bool, NodeError> {
        self.fail()?;
        Ok(!self.moved.contains(outpoint))
    }
}

impl FakeNode {
    fn fail(&self) -> Result<(), NodeError> {
        if self.down {
            return Err(NodeError::Unreachable { url: "http://127.0.0.1:1".into(), reason: "refused".into() });
        }
        Ok(())
    }

    /// Replaces the best chain's block at `height` with an empty one.
    fn reorg(&mut self, height: u32) -> BlockHash {
        let replacement = block(100 + height, Vec::new());
        let hash = replacement.block_hash();
        self.blocks.insert(hash, replacement);
        self.best[height as usize] = hash;
        hash
    }
}

fn script(key: u8) -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([key; 20]))
}

fn tx(spends: OutPoint, outputs: &[(u64, u8)]) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: spends,
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: outputs
            .iter()
            .map(|&(sat, key)| TxOut { value: Amount::from_sat(sat), script_pubkey: script(key) })
            .collect(),
    }
}

fn block(nonce: u32, txdata: Vec<Transaction>) -> Block {
    let mut header = bitcoin::constants::genesis_block(bitcoin::Network::Regtest).header;
    header.nonce = nonce;
    Block { header, txdata }
}

/// Blocks 1 and 2 above an empty genesis: `a` (two outputs) in block 1, `b` spending `a:0` in
/// block 2.
struct Fixture {
    node: FakeNode,
    a: Transaction,
    b: Transaction,
}

fn fixture() -> Fixture {
    let a = tx(OutPoint { txid: Txid::from_byte_array([9; 32]), vout: 0 }, &[(50_000, 1), (20_000, 2)]);
    let b = tx(OutPoint { txid: a.compute_txid(), vout: 0 }, &[(49_000, 3)]);
    let chain =
        [block(0, Vec::new()), block(1, vec![tx(OutPoint::null(), &[(1, 7)]), a.clone()]), block(2, vec![b.clone()])];
    let best = chain.iter().map(Block::block_hash).collect();
    let blocks = chain.into_iter().map(|b| (b.block_hash(), b)).collect();
    Fixture {
        node: FakeNode { chain: "regtest".into(), best, blocks, fetched: 0, down: false, moved: Vec::new() },
        a,
        b,
    }
}

impl Fixture {
    fn at(&self, height: u32) -> BlockRef {
        BlockRef { height, hash: self.node.best[height as usize].to_string() }
    }

    /// `a:0` spent by `b`, `a:1` and `b:0` unspent, sealed.
    fn report(&self) -> CaseReport {
        let out = |tx: &Transaction, vout: usize, block: BlockRef, spent_by: Option<Spend>| Hop {
            txid: tx.compute_txid().to_string(),
            block,
            vout: Some(vout as u32),
            value_sat: Some(tx.output[vout].value.to_sat()),
            script_hex: Some(hex::encode(tx.output[vout].script_pubkey.as_bytes())),
            address: Address::from_script(&tx.output[vout].script_pubkey, bitcoin::Network::Regtest)
                .ok()
                .map(|a| a.to_string()),
            spent_by,
        };
        let spend = Spend { txid: self.b.compute_txid().to_string(), vin: 0, block: self.at(2) };
        CaseReport {
            format: FORMAT,
            tool: "chaintrail query 0.1.0".into(),
            command: vec!["trace".into(), "forward".into(), self.a.compute_txid().to_string()],
            network: "regtest".into(),
            tip: self.at(2),
            case: Default::default(),
            index: Default::default(),
            hops: vec![
                out(&self.a, 0, self.at(1), Some(spend)),
                out(&self.a, 1, self.at(1), None),
                out(&self.b, 0, self.at(2), None),
            ],
            scripts_used: Vec::new(),
            clusters_used: Vec::new(),
            tags_used: Vec::<TaggedAddress>::new(),
            tx_tags_used: Vec::new(),
            answer: serde_json::json!({"txs": []}),
            requests: None,
            digest: String::new(),
            signature: None,
        }
        .seal()
    }

    /// The report's failure, as `verify` prints it.
    fn fails(&mut self, report: &CaseReport) -> String {
        verify(report, &mut self.node).unwrap_err().to_string()
    }
}

fn verify(report: &CaseReport, node: &mut FakeNode) -> Result<Verified, VerifyError> {
    let network = check_sealed(report, &serde_json::to_value(report).unwrap())?;
    check_on_node(report, network, node)
}

#[test]
fn a_report_that_holds_is_checked_hop_by_hop_fetching_each_block_once() {
    let mut f = fixture();
    let report = f.report();
    let b0 = OutPoint { txid: f.b.compute_txid(), vout: 0 };
    // Block 3, after the report's tip, spends b:0.
    let c = tx(b0, &[(48_000, 4)]);
    let later = block(3, vec![c.clone()]);
    f.node.best.push(later.block_hash());
    f.node.blocks.insert(later.block_hash(), later);
    f.node.moved.push(b0);
    let verified = verify(&report, &mut f.node).unwrap();
    assert_eq!((verified.hops_checked, verified.blocks_checked, &verified.tip), (3, 2, &f.at(3)));
    assert_eq!(f.node.fetched, 4, "blocks 1 and 2 once each; block 3 for where b:0 went and for the tip's time");
    // The unspent outputs are checked at the tip: one has moved since, in block 3.
    let moved = Moved { outpoint: b0, spent_by: c.compute_txid(), vin: 0, height: 3 };
    assert_eq!((verified.unspent_checked, verified.moved_since.clone()), (2, vec![moved]));
    // The excerpt: both txs in chain order, b spending a:0.
    let txs = &verified.excerpt.txs;
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[0].spent, vec![(0, 1, 0)]);
    assert_eq!(
        txs[1].inputs,
        Some(vec![indexer::storage::excerpt::ExcerptInput { prev: 0, vout: 0, value: txs[0].outputs[0].0 }])
    );
}

#[test]
fn an_output_recorded_unspent_but_spent_by_the_reports_tip_fails_as_a_branch_left_out() {
    let mut f = fixture();
    // The report says a:1 is unspent; the node has it spent, and no block after the report's
    // tip spends it: the spend was left out of the file.
    let report = f.report();
    f.node.moved.push(OutPoint { txid: f.a.compute_txid(), vout: 1 });
    let err = f.fails(&report);
    assert!(err.starts_with("hop 2 of 3 (txid "), "{err}");
    assert!(
        err.ends_with(
            "recorded unspent, but spent at or before the report's tip (height 2): the report leaves out where it went"
        ),
        "{err}"
    );
}

#[test]
fn a_changed_report_fails_on_its_digest_before_the_node_is_asked() {
    let mut f = fixture();
    let report = f.report();
    let mut edited = report.clone();
    edited.hops[1].value_sat = Some(20_001);
    let computed = edited.compute_digest();
    f.node.down = true;
    assert_eq!(
        f.fails(&edited),
        format!(
            "digest mismatch: the report was changed after it was written (expected {}, computed {computed})",
            report.digest
        )
    );
    // A field the format does not have, added to the file, changes the file's digest.
    let mut file = serde_json::to_value(&report).unwrap();
    file["hops"][0]["note"] = serde_json::json!("checked by hand");
    let err = check_sealed(&report, &file).unwrap_err().to_string();
    assert!(err.starts_with("digest mismatch: the report was changed after it was written (expected "), "{err}");
    assert!(!err.contains(&format!("computed {})", report.digest)), "{err}");
}

#[test]
fn another_format_or_an_unknown_network_is_refused() {
    let mut f = fixture();
    let mut report = f.report();
    report.format = 1;
    let report = report.seal();
    assert_eq!(
        f.fails(&report),
        "the report is of format 1, but this query reads format 2 (the report was written by chaintrail query 0.1.0)"
    );
    let mut report = f.report();
    report.network = "moon".into();
    let report = report.seal();
    assert_eq!(
        f.fails(&report),
        "the report is of network 'moon', which is none of main, test, testnet4, signet or regtest"
    );
}

#[test]
fn a_node_on_another_chain_or_down_is_one_line() {
    let mut f = fixture();
    let report = f.report();
    f.node.chain = "main".into();
    assert_eq!(
        f.fails(&report),
        "the node is on 'main', but the report is of 'regtest': verify it against a regtest node (--rpc-url, --rpc-cookie)"
    );
    f.node.down = true;
    assert_eq!(f.fails(&report), "cannot reach bitcoind at http://127.0.0.1:1: refused");
}

#[test]
fn a_reorged_block_fails_at_the_hop_whose_tx_it_held() {
    let mut f = fixture();
    let report = f.report();
    let old = f.node.best[2];
    let now = f.node.reorg(2);
    let (a, b) = (f.a.compute_txid(), f.b.compute_txid());
    // Hop 3's own tx was in the reorged block: it fails there, though hop 1's output is spent
    // in that block too (every hop's own tx and output are checked before the spends).
    assert_eq!(
        f.fails(&report),
        format!(
            "hop 3 of 3 (txid {b}): block {old} at height 2 is no longer in the best chain \
             (reorged away; the block there is now {now})"
        )
    );
    // Without hop 3, the spend of hop 1's output in that block fails, naming the spending tx.
    let mut spent = report.clone();
    spent.hops.truncate(2);
    assert_eq!(
        f.fails(&spent.seal()),
        format!(
            "hop 1 of 2 (txid {a}): spent by {b} (input 0): block {old} at height 2 is no longer in the best chain \
             (reorged away; the block there is now {now})"
        )
    );
    // A chain now shorter than the block's height.
    f.node.best.truncate(2);
    assert_eq!(
        f.fails(&report),
        format!(
            "hop 3 of 3 (txid {b}): block {old} at height 2 is no longer in the best chain \
             (reorged away; the node's best chain now ends below height 2)"
        )
    );
}

#[test]
fn a_tx_missing_from_its_block_or_an_output_unlike_the_nodes_fails_naming_both_sides() {
    let mut f = fixture();
    let a = f.a.compute_txid();
    let b1 = f.node.best[1];
    let mut report = f.report();
    report.hops[2].block = f.at(1);
    let b = f.b.compute_txid();
    assert_eq!(f.fails(&report.seal()), format!("hop 3 of 3 (txid {b}): not in block {b1} at height 1"));

    let mut report = f.report();
    report.hops[1].value_sat = Some(21_000);
    assert_eq!(
        f.fails(&report.seal()),
        format!("hop 2 of 3 (txid {a}): value differs: the report says 21000 sat, the node 20000 sat")
    );

    let mut report = f.report();
    report.hops[1].script_hex = Some(hex::encode(script(5).as_bytes()));
    assert_eq!(
        f.fails(&report.seal()),
        format!(
            "hop 2 of 3 (txid {a}): script differs: the report says {}, the node {}",
            hex::encode(script(5).as_bytes()),
            hex::encode(script(2).as_bytes())
        )
    );

    let mut report = f.report();
    let other = Address::from_script(&script(5), bitcoin::Network::Regtest).unwrap().to_string();
    let paid = Address::from_script(&script(2), bitcoin::Network::Regtest).unwrap().to_string();
    report.hops[1].address = Some(other.clone());
    assert_eq!(
        f.fails(&report.seal()),
        format!("hop 2 of 3 (txid {a}): address differs: the report says {other}, the node's script pays {paid}")
    );

    let mut report = f.report();
    report.hops[1].vout = Some(2);
    assert_eq!(f.fails(&report.seal()), format!("hop 2 of 3 (txid {a}): no output 2: the node's transaction has 2"));
}

#[test]
fn a_spend_is_checked_input_by_input() {
    let mut f = fixture();
    let (a, b) = (f.a.compute_txid(), f.b.compute_txid());
    let mut report = f.report();
    report.hops[0].spent_by.as_mut().unwrap().vin = 1;
    assert_eq!(
        f.fails(&report.seal()),
        format!("hop 1 of 3 (txid {a}): spent by {b} (input 1): no input 1: the node's transaction has 1")
    );

    // Hop 2 (a:1) claims the input that spends a:0.
    let mut report = f.report();
    report.hops[1].spent_by = report.hops[0].spent_by.clone();
    assert_eq!(
        f.fails(&report.seal()),
        format!("hop 2 of 3 (txid {a}): spent by {b} (input 0): input 0 spends {a}:0, not {a}:1")
    );

    let mut report = f.report();
    report.hops[0].vout = None;
    assert_eq!(
        f.fails(&report.seal()),
        format!("hop 1 of 3 (txid {a}): the report names a spending input but no output of the transaction")
    );
}

#[test]
fn malformed_ids_and_node_failures_mid_way_name_the_hop() {
    let mut f = fixture();
    let mut report = f.report();
    report.hops[1].txid = "xyz".into();
    assert_eq!(f.fails(&report.seal()), "hop 2 of 3 (txid xyz): malformed txid 'xyz' in the report");

    let mut report = f.report();
    report.hops[2].block.hash = "00".into();
    let b = f.b.compute_txid();
    assert_eq!(f.fails(&report.seal()), format!("hop 3 of 3 (txid {b}): malformed block hash '00' in the report"));

    // The node fails once the tip is known: the hop that asked is named.
    struct Flaky(FakeNode);
    impl ChainSource for Flaky {
        fn chain(&mut self) -> Result<(String, u32), NodeError> {
            self.0.chain()
        }
        fn hash_at(&mut self, height: u32) -> Result<Option<BlockHash>, NodeError> {
            self.0.hash_at(height)
        }
        fn fetch_block(&mut self, _: &BlockHash) -> Result<Block, NodeError> {
            Err(NodeError::Rpc { code: -1, message: "Block not available (pruned data)".into() })
        }
        fn unspent(&mut self, outpoint: &OutPoint) -> Result<bool, NodeError> {
            self.0.unspent(outpoint)
        }
    }
    let report = f.report();
    let b1 = f.node.best[1];
    let mut flaky = Flaky(fixture().node);
    let network = check_sealed(&report, &serde_json::to_value(&report).unwrap()).unwrap();
    let err = check_on_node(&report, network, &mut flaky).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "hop 1 of 3 (txid {}): cannot get block {b1} from the node: bitcoind returned error -1: \
             Block not available (pruned data)",
            f.a.compute_txid()
        )
    );
}
