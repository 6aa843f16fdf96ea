//! Hand-made answers the renderers' tests draw: txids, tags, txs, spend edges, destinations and
//! the trace, path, address and cluster views around them, with plain defaults a test changes
//! through struct update syntax (`TxNode { stopped: true, ..tx_node(..) }`).

use crate::model::{
    AddressView, ArrivalView, ClusterView, DestinationView, EdgeView, HeuristicsView, PathView, TagView,
    TaintCategoryView, TaintEntityView, TaintSourceView, TaintView, TaintedOutputView, TraceView, TxNode,
};

/// A txid of 64 copies of `c`.
pub(super) fn txid(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

/// The time of the block at `height`: midnight UTC of a day in January 2024.
pub(super) fn block_time(height: u32) -> String {
    format!("2024-01-{:02}T00:00:00Z", height % 28 + 1)
}

/// A tag `label` of `category`, from source `test` of the pack `pack`, at confidence `forensic`.
pub(super) fn tag(label: &str, category: &str) -> TagView {
    TagView {
        label: label.into(),
        category: Some(category.into()),
        source: "test".into(),
        confidence: "forensic".into(),
        pack: "pack".into(),
    }
}

/// The multi-input rules, version 1, without change outputs.
pub(super) fn heuristics() -> HeuristicsView {
    HeuristicsView { name: "multi_input".into(), version: 1, change: false }
}

/// Tx `txid` of the block at `height` (with that block's time), at `hop`: not stopped, untagged.
pub(super) fn tx_node(txid: &str, height: u32, hop: u32) -> TxNode {
    TxNode {
        txid: txid.into(),
        height,
        time: block_time(height),
        block_hash: self::txid('0'),
        hop,
        stopped: false,
        stopped_at: Vec::new(),
        tags: Vec::new(),
    }
}

/// The address of an output labelled `label`: none for a bare script or an `op_return`.
fn address_of(label: &str) -> Option<String> {
    (!label.starts_with("script:") && !label.starts_with("op_return")).then(|| label.into())
}

/// Output 1 of `from` paying `value_sat` to `label`, spent by input 0 of `to`; untagged.
pub(super) fn edge(from: &str, to: &str, value_sat: u64, label: &str) -> EdgeView {
    EdgeView {
        from_txid: from.into(),
        vout: 1,
        to_txid: to.into(),
        vin: 0,
        value_sat,
        address: address_of(label),
        tags: Vec::new(),
        label: label.into(),
    }
}

/// Output 0 of `txid` (hop 0, height 100) paying `value_sat` to `label`, where a branch ends in
/// `state`: untagged, with no traced share and nothing spending it.
pub(super) fn destination(txid: &str, label: &str, value_sat: u64, state: &'static str) -> DestinationView {
    DestinationView {
        txid: txid.into(),
        vout: Some(0),
        vin: None,
        hop: 0,
        height: 100,
        time: block_time(100),
        address: address_of(label),
        tags: Vec::new(),
        value_sat,
        traced_sat: None,
        percent: None,
        state,
        spent_by: None,
        prev_output: None,
        label: label.into(),
    }
}

/// A whole trace from the first of `txs`, limited to 20 hops, following every edge of any value;
/// its source is what the destinations traced (no fees), and it is not truncated.
pub(super) fn trace(
    direction: &'static str,
    txs: Vec<TxNode>,
    edges: Vec<EdgeView>,
    destinations: Vec<DestinationView>,
) -> TraceView {
    TraceView {
        root: txs.first().map(|t| t.txid.clone()).unwrap_or_default(),
        direction,
        hops: 20,
        hops_reached: txs.iter().map(|t| t.hop).max().unwrap_or(0),
        min_value_sat: 0,
        max_txs: 10_000,
        follow: "all",
        top: None,
        source_sat: destinations.iter().filter_map(|d| d.traced_sat).sum(),
        fees_sat: 0,
        txs,
        edges,
        destinations,
        joins: Vec::new(),
        truncated: false,
    }
}

/// A path found from `from` to `to` through `nodes`, one hop an edge, within 30 hops, having
/// visited only its own txs.
pub(super) fn path(
    from: &str,
    to: &str,
    nodes: Vec<TxNode>,
    edges: Vec<EdgeView>,
    destinations: Vec<DestinationView>,
) -> PathView {
    PathView {
        from: from.into(),
        to: to.into(),
        found: true,
        hops: Some(edges.len() as u32),
        txs: nodes.iter().map(|t| t.txid.clone()).collect(),
        visited_txs: nodes.len() as u64,
        nodes,
        edges,
        destinations,
        max_hops: 30,
        truncated: false,
    }
}

/// `address` never seen: no script, tags, history or cluster.
pub(super) fn address(address: &str) -> AddressView {
    AddressView {
        address: address.into(),
        script_hex: String::new(),
        tags: Vec::new(),
        balance_sat: 0,
        received_sat: 0,
        sent_sat: 0,
        tx_count: 0,
        first_seen_height: None,
        first_seen_time: None,
        last_seen_height: None,
        last_seen_time: None,
        cluster_id: None,
        cluster_size: None,
        key_balance_sat: 0,
        key_scripts: Vec::new(),
        utxo_count: 0,
        key_utxo_count: 0,
        utxos: Vec::new(),
        utxos_truncated: false,
        history_from_height: None,
        history_to_height: None,
        history: Vec::new(),
        next_cursor: None,
    }
}

/// The cluster of `address` alone, never seen: no balance, txs, tags or other members.
pub(super) fn cluster(address: &str) -> ClusterView {
    ClusterView {
        address: address.into(),
        cluster_id: address.into(),
        size: 1,
        balance_sat: 0,
        received_sat: 0,
        tx_count: 0,
        first_height: None,
        first_time: None,
        last_height: None,
        last_time: None,
        heuristics: heuristics(),
        tags: Vec::new(),
        addresses: Vec::new(),
        next_cursor: None,
    }
}

/// Output `vout` of tx `c` (block 101) paying a 64-character regtest address of `c`s.
pub(super) fn tainted_output(c: char, vout: u32, value_sat: u64, tainted_sat: u64, hop: u32) -> TaintedOutputView {
    let address = format!("bcrt1q{}", std::iter::repeat_n(c, 58).collect::<String>());
    TaintedOutputView {
        txid: txid(c),
        vout,
        label: address.clone(),
        address: Some(address),
        value_sat,
        tainted_sat,
        hop,
        spent: hop < 2,
        height: 101,
        time: block_time(101),
        tags: Vec::new(),
        entity: None,
    }
}

/// A fifo taint from tx `a` (9,900 sat): its output, a peel's, a tagged exchange's and one more;
/// frontier 9,500, fees 400.
pub(super) fn taint() -> TaintView {
    let mut exchange = tainted_output('c', 0, 5_000, 4_000, 2);
    exchange.tags = vec![tag("Exchange A", "exchange")];
    exchange.label = format!("Exchange A ({})", exchange.label);
    exchange.entity = Some(ArrivalView {
        label: "Exchange A".into(),
        category: "exchange".into(),
        first_arrival_sat: 4_000,
        gross_sat: 0,
    });
    TaintView {
        model: "fifo",
        source: TaintSourceView { target: txid('a'), tainted_sat: 9_900 },
        hops: 10,
        max_txs: 10_000,
        min_sat: 1,
        outputs: vec![
            tainted_output('a', 0, 9_900, 9_900, 0),
            tainted_output('b', 1, 7_800, 7_800, 1),
            exchange,
            tainted_output('d', 0, 5_500, 5_500, 3),
        ],
        frontier_tainted_sat: 9_500,
        fees_tainted_sat: 400,
        truncated: false,
        by_category: vec![TaintCategoryView {
            category: "exchange".into(),
            tainted_sat: 4_000,
            gross_sat: 0,
            entities: vec![TaintEntityView { label: "Exchange A".into(), tainted_sat: 4_000, gross_sat: 0 }],
        }],
        joins: Vec::new(),
        compare: None,
    }
}
