//! The results the commands produce, as plain data. Their JSON field names are the interface
//! other programs read; every renderer (JSON, table, dot, GraphML) works from these.

use serde::{Deserialize, Serialize};

use crate::tags::Tag;

/// A finished answer: the result, plus notes for the reader (written to stderr).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub body: Body,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Tx(TxView),
    Address(AddressView),
    Trace(TraceView),
    Path(PathView),
    Cluster(ClusterView),
    Why(WhyView),
    Clusters(ClustersView),
    Exposure(ExposureView),
    Taint(TaintView),
    TagImport(TagImportView),
    AddressTags(AddressTagsView),
    TagList(TagListView),
    TagRemove(TagRemoveView),
    Verify(VerifyView),
    Key(KeyView),
    Report(ReportView),
}

impl Body {
    /// The command that answers with this body, for messages.
    pub fn command(&self) -> &'static str {
        match self {
            Body::Tx(_) => "tx",
            Body::Address(_) => "address",
            Body::Trace(_) => "trace",
            Body::Path(_) => "path",
            Body::Cluster(_) | Body::Why(_) => "cluster",
            Body::Clusters(_) => "clusters",
            Body::Exposure(_) => "exposure",
            Body::Taint(_) => "taint",
            Body::TagImport(_) | Body::AddressTags(_) | Body::TagList(_) | Body::TagRemove(_) => "tags",
            Body::Verify(_) => "verify",
            Body::Key(_) => "keys",
            Body::Report(_) => "report",
        }
    }
}

/// `query tx`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TxView {
    pub txid: String,
    pub height: u32,
    /// The block's time, UTC (ISO 8601).
    pub time: String,
    pub block_hash: String,
    /// Index inside the block; 0 is the coinbase.
    pub position: u32,
    pub coinbase: bool,
    pub input_sat: u64,
    pub output_sat: u64,
    /// `None` for a coinbase.
    pub fee_sat: Option<u64>,
    pub inputs: Vec<InputView>,
    pub outputs: Vec<OutputView>,
    /// Heights of later txs with the same txid (BIP30 duplicates); this shows the first.
    pub duplicate_heights: Vec<u32>,
    /// What CoinJoin the tx looks like; `None` when none (and for a coinbase).
    pub coinjoin: Option<CoinJoinView>,
    /// Which output the change heuristics take for change; `None` when they do not agree on one.
    pub change: Option<ChangeView>,
    /// Tags of the transaction itself (`tx_hash` tags).
    pub tags: Vec<TagView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoinJoinView {
    /// `generic`, `wasabi1`, `wabisabi`, `whirlpool` or `joinmarket`.
    pub kind: &'static str,
    /// In `0.0..=1.0`, rounded to 4 decimals.
    pub confidence: f64,
    /// Outputs of exactly `denomination_sat`.
    pub participants: u32,
    pub denomination_sat: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeView {
    pub vout: u32,
    /// The heuristics that picked it: `address_reuse`, `fresh_address`, `script_type`,
    /// `round_amount`, `optimal_change`.
    pub heuristics: Vec<&'static str>,
    /// In `0.0..1.0`, rounded to 4 decimals.
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputView {
    pub vin: u32,
    pub prev_txid: String,
    pub prev_vout: u32,
    pub value_sat: u64,
    pub address: Option<String>,
    pub script_hex: String,
    /// Tags of the spent output's address.
    pub tags: Vec<TagView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputView {
    pub vout: u32,
    pub value_sat: u64,
    pub address: Option<String>,
    pub script_hex: String,
    /// Tags of the output's address.
    pub tags: Vec<TagView>,
    /// `None` while unspent (and always for OP_RETURN).
    pub spent_by: Option<SpentBy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpentBy {
    pub txid: String,
    pub vin: u32,
    pub height: u32,
    /// The block's time, UTC (ISO 8601).
    pub time: String,
}

/// `query address`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressView {
    pub address: String,
    pub script_hex: String,
    /// Tags of the address.
    pub tags: Vec<TagView>,
    pub balance_sat: u64,
    pub received_sat: u64,
    pub sent_sat: u64,
    /// Distinct txs that paid or spent it.
    pub tx_count: u32,
    pub first_seen_height: Option<u32>,
    /// The time of the block at `first_seen_height`, UTC (ISO 8601).
    pub first_seen_time: Option<String>,
    pub last_seen_height: Option<u32>,
    pub last_seen_time: Option<String>,
    /// The id of its cluster; `None` when clusters were never built or the address never seen.
    pub cluster_id: Option<String>,
    /// Addresses in its cluster (1 when it was never merged with another).
    pub cluster_size: Option<u64>,
    /// Balance of the address and of the other scripts of its key (`key_scripts`).
    pub key_balance_sat: u64,
    /// The other scripts of its public key (P2PK, P2PKH, P2WPKH) the chain has paid.
    pub key_scripts: Vec<KeyScriptView>,
    /// Its own unspent outputs.
    pub utxo_count: u32,
    /// Unspent outputs of the address and of `key_scripts`; `utxos` lists the first
    /// `--max-utxos` of them.
    pub key_utxo_count: u32,
    pub utxos: Vec<UtxoView>,
    pub utxos_truncated: bool,
    /// The heights the history is limited to (`--from-height`/`--to-height` or the dates);
    /// `None` when unlimited.
    pub history_from_height: Option<u32>,
    pub history_to_height: Option<u32>,
    /// One page of the history of the address and of `key_scripts`, in chain order.
    pub history: Vec<HistoryView>,
    /// Pass to `--after` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Another script of an address's public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyScriptView {
    /// `p2pk`, `p2pkh` or `p2wpkh`.
    pub script_type: &'static str,
    pub script_hex: String,
    /// `None` for P2PK, which has no address.
    pub address: Option<String>,
    pub balance_sat: u64,
    pub received_sat: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UtxoView {
    pub txid: String,
    pub vout: u32,
    pub value_sat: u64,
    pub height: u32,
    /// The block's time, UTC (ISO 8601).
    pub time: String,
    /// The script it pays (`script_hex` of the address or of one of its `key_scripts`).
    pub script: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryView {
    pub txid: String,
    /// The tx's number in chain order (an internal counter, not a height).
    pub txnum: u64,
    pub height: u32,
    /// The block's time, UTC (ISO 8601).
    pub time: String,
    /// `funded` (an output paid the address) or `spent` (an input spent from it).
    pub kind: &'static str,
    /// The output index when funded, the input index when spent.
    pub index: u32,
    pub value_sat: u64,
    /// The script paid or spent from (`script_hex` of the address or of one of its `key_scripts`).
    pub script: String,
    /// Where this event sits; `--after` it continues with the next one.
    pub cursor: String,
}

/// A tx of a trace or path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxNode {
    pub txid: String,
    pub height: u32,
    /// The block's time, UTC (ISO 8601).
    pub time: String,
    pub block_hash: String,
    /// Trace: smallest hop from the root set. Path: position along the path (0 = first tx).
    pub hop: u32,
    /// Trace only: it pays (forward) or spends from (backward) a stop address (`--stop-at-*`);
    /// the branches through those outputs (inputs) end there, the others go on.
    pub stopped: bool,
    /// The stop addresses it touched (`stopped`); left out when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped_at: Vec<String>,
    /// Tags of the transaction itself; left out when it has none (traces list many txs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagView>,
}

/// A spend edge, pointing the way money flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EdgeView {
    pub from_txid: String,
    pub vout: u32,
    pub to_txid: String,
    pub vin: u32,
    pub value_sat: u64,
    /// The address of the output; `None` for scripts without one.
    pub address: Option<String>,
    /// Tags of that address; left out when it has none (traces list many edges).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagView>,
    /// For tables and graphs: the address (or `op_return` / `script:<hex>`), led by its best
    /// tag's label when it has one.
    #[serde(skip)]
    pub label: String,
}

/// Where a branch of a trace or path ends: an output (forward, path) or input (backward) of a
/// reported tx that no reported edge continues.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DestinationView {
    /// The tx it belongs to.
    pub txid: String,
    /// Forward and path: the output; `None` backward.
    pub vout: Option<u32>,
    /// Backward: the input; `None` forward and in paths.
    pub vin: Option<u32>,
    /// The hop of its tx (path: the tx's position along the path).
    pub hop: u32,
    pub height: u32,
    /// The block's time, UTC (ISO 8601).
    pub time: String,
    /// The output's address (backward: the address of the output the input spent); `None` for
    /// scripts without one and coinbase inputs.
    pub address: Option<String>,
    /// Tags of that address; left out when it has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagView>,
    /// The whole output (input) value.
    pub value_sat: u64,
    /// Trace only: how much of the source value reached it, split at every tx in proportion to
    /// the values (the same rule as exposure). Destinations plus fees add up to `source_sat`.
    pub traced_sat: Option<u64>,
    /// Trace only: `traced_sat` as a percentage of `source_sat`, to 4 decimals.
    pub percent: Option<f64>,
    /// Why the branch ends: `unspent`, `unspendable`, `stopped` (a stop address), `hop_limit`,
    /// `max_txs`, `below_min_value`, `not_followed` (`--follow largest`/`--top`), `coinbase`
    /// (backward: newly mined coins); in paths `unspent` or `spent`.
    pub state: &'static str,
    /// Forward and path: the tx that spent the output, when it was spent.
    pub spent_by: Option<String>,
    /// Backward: the output the input spent, `<txid>:<vout>`; `None` for a coinbase.
    pub prev_output: Option<String>,
    /// For tables and graphs: the address (or `op_return` / `script:<hex>` / `coinbase`), led by
    /// its best tag's label when it has one.
    #[serde(skip)]
    pub label: String,
}

/// `query trace`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceView {
    /// The target as given: txid, `txid:vout` or address.
    pub root: String,
    pub direction: &'static str,
    /// The hop limit asked for (`--hops`).
    pub hops: u32,
    /// The largest hop of a reported tx.
    pub hops_reached: u32,
    pub min_value_sat: u64,
    pub max_txs: u64,
    /// `all`, `largest` (`--follow largest`) or `top` (`--top N`).
    pub follow: &'static str,
    /// `--top N`; `None` otherwise.
    pub top: Option<u32>,
    /// The value traced: forward, the outputs of a txid, the outpoint, or the address's outputs
    /// its hop-0 txs spend; backward, the inputs of a txid, the outpoint, or the outputs paying
    /// the address.
    pub source_sat: u64,
    /// Forward: the part of the source value paid as fees by the reported txs past hop 0's own.
    pub fees_sat: u64,
    /// By hop, then chain order.
    pub txs: Vec<TxNode>,
    pub edges: Vec<EdgeView>,
    /// Where every branch ends, by hop, then chain order, then output (input) index.
    pub destinations: Vec<DestinationView>,
    /// Forward: the txs of the trace (past the roots) where value from outside the traced flow
    /// joins it, with the inputs that bring it; empty backward.
    pub joins: Vec<JoinView>,
    /// `max_txs` was reached: txs within the hop limit are missing.
    pub truncated: bool,
}

/// `query path`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathView {
    pub from: String,
    pub to: String,
    pub found: bool,
    /// Spend edges along the path; `None` when not found.
    pub hops: Option<u32>,
    /// Txids from the first tx to the last.
    pub txs: Vec<String>,
    /// The same txs with their heights.
    pub nodes: Vec<TxNode>,
    /// Every spend edge between consecutive txs of the path.
    pub edges: Vec<EdgeView>,
    /// The outputs of the last tx that reach `to`: the outputs paying the address, the outpoint,
    /// or every output of the txid; empty when not found.
    pub destinations: Vec<DestinationView>,
    pub max_hops: u32,
    /// The search gave up at its cap on visited txs.
    pub truncated: bool,
    pub visited_txs: u64,
}

/// Which rules built the clusters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeuristicsView {
    /// `multi_input`, or `multi_input+change` when change outputs were merged too.
    pub name: String,
    /// The version of the rules (clusters are rebuilt when it changes).
    pub version: u16,
    pub change: bool,
}

/// `query cluster <address>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterView {
    /// The address asked about.
    pub address: String,
    /// The address (or `script:<hex>`) of the cluster's earliest script: stable as it grows.
    pub cluster_id: String,
    /// Addresses (scripts) in the cluster.
    pub size: u64,
    pub balance_sat: u64,
    /// Sum of what each member received (payments between members count too).
    pub received_sat: u64,
    /// Distinct txs paying or spending from any member.
    pub tx_count: u64,
    pub first_height: Option<u32>,
    /// The time of the block at `first_height`, UTC (ISO 8601).
    pub first_time: Option<String>,
    pub last_height: Option<u32>,
    pub last_time: Option<String>,
    pub heuristics: HeuristicsView,
    /// Every tag of every member (once per label and source): the cluster carries its addresses' tags.
    pub tags: Vec<TagView>,
    /// One page of members, by balance (largest first), then script number.
    pub addresses: Vec<MemberView>,
    /// Pass to `--after` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberView {
    /// The address, or `script:<hex>` for scripts without one (P2PK, bare multisig).
    pub address: String,
    pub balance_sat: u64,
    pub tags: Vec<TagView>,
}

/// `query cluster --why <a> <b>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhyView {
    pub from: String,
    pub to: String,
    pub same_cluster: bool,
    /// `None` when they are in different clusters.
    pub cluster_id: Option<String>,
    /// The merges joining `from` to `to`, in order; empty when in different clusters.
    pub links: Vec<LinkView>,
    pub heuristics: HeuristicsView,
}

/// One merge: a tx put two addresses in one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkView {
    pub txid: String,
    pub height: u32,
    /// The block's time, UTC (ISO 8601).
    pub time: String,
    pub from: String,
    pub to: String,
    /// `spent_together`, `same_key` or `change`.
    pub reason: &'static str,
}

/// `query clusters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClustersView {
    pub top: u64,
    pub heuristics: HeuristicsView,
    /// Largest first; only clusters of two or more addresses.
    pub clusters: Vec<ClusterSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterSummary {
    pub cluster_id: String,
    pub size: u64,
    /// Sum of the members' balances.
    pub balance_sat: u64,
}

/// `query exposure`. `direct` + `indirect` + `unattributed_sat` + `fees_sat` = `total_sat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposureView {
    /// The address or txid as given.
    pub target: String,
    /// `out` (where what it sent went) or `in` (where what it received came from).
    pub direction: &'static str,
    pub hops: u32,
    pub max_txs: u64,
    /// What the target sent (out) or received (in).
    pub total_sat: u64,
    /// Tagged entities at hop 1 (immediate counterparties), largest category first.
    pub direct: Vec<CategoryExposure>,
    /// Tagged entities reached through untagged intermediaries, largest category first.
    pub indirect: Vec<CategoryExposure>,
    /// The tagged outputs value was attributed at, largest first: they add up to `direct` plus
    /// `indirect`.
    pub attributions: Vec<AttributionView>,
    pub unattributed_sat: u64,
    /// Fees paid along the way (out only).
    pub fees_sat: u64,
    /// Where the unattributed value stopped.
    pub unattributed_by_reason: UnattributedView,
    /// Txs split past the target's own (a tx reached at two hops counts twice).
    pub txs_followed: u64,
    /// `max_txs` was reached: `max_txs_sat` of the value was not followed further.
    pub truncated: bool,
}

/// The value reaching (or coming from) the entities of one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryExposure {
    pub category: String,
    pub value_sat: u64,
    /// Largest first.
    pub entities: Vec<EntityExposure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityExposure {
    pub label: String,
    pub value_sat: u64,
}

/// Value attributed to an entity at one tagged output (out: the output the flow reached; in: the
/// output it came from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttributionView {
    pub txid: String,
    pub vout: u32,
    /// The output's address; `None` for scripts without one.
    pub address: Option<String>,
    /// The entity: its tag's label and category.
    pub label: String,
    pub category: String,
    /// The part of the total attributed there (not the output's whole value).
    pub value_sat: u64,
    /// 1 for the target's own counterparties (direct), more for indirect.
    pub hop: u32,
}

/// `query report`: where the case file was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportView {
    /// The path of `report.json`.
    pub report: String,
    /// The path of `report.html`.
    pub html: String,
    /// The report's `digest`.
    pub digest: String,
    /// How many hops (outputs the answer rests on) it lists.
    pub hops: u64,
    /// The indexed tip the answer was computed at.
    pub tip: crate::report::BlockRef,
}

/// Unattributed value by where its flow ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnattributedView {
    /// At an untagged unspent (or unspendable) output.
    pub unspent_sat: u64,
    /// At an untagged output of the last hop that goes on.
    pub hop_limit_sat: u64,
    /// Not followed into a tx past `max_txs`.
    pub max_txs_sat: u64,
    /// In only: at a coinbase (newly mined coins).
    pub coinbase_sat: u64,
}

/// `query taint`. For haircut, fifo and lifo, `source.tainted_sat` = `frontier_tainted_sat` +
/// `fees_tainted_sat`, to the satoshi.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaintView {
    /// `poison`, `haircut`, `fifo` or `lifo`.
    pub model: &'static str,
    pub source: TaintSourceView,
    pub hops: u32,
    pub max_txs: u64,
    pub min_sat: u64,
    /// Every output carrying taint (`tainted_sat` > 0), by hop, chain order and output index.
    pub outputs: Vec<TaintedOutputView>,
    /// Taint left in outputs that were not followed: unspent or OP_RETURN ones, those of txs at
    /// the hop limit, those below `min_sat`, and those spent by txs past `max_txs`.
    pub frontier_tainted_sat: u64,
    /// Taint paid as fees by the txs followed.
    pub fees_tainted_sat: u64,
    /// `max_txs` was reached: some taint was not followed further.
    pub truncated: bool,
    /// Taint reaching tagged entities (an address's own tags, or its cluster's), by category,
    /// largest first; empty without tags. Counted at first arrival, as exposure counts; what an
    /// entity then moves on (to itself or another) is `gross_sat`.
    pub by_category: Vec<TaintCategoryView>,
    /// The txs where value from outside the followed taint joins it, in chain order: the models
    /// give their outputs different taint from here on, and only from here.
    pub joins: Vec<JoinView>,
    /// `--compare`: every tainted output and category under all four models side by side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<TaintCompareView>,
}

/// A tx where value that is not part of the followed flow joins it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JoinView {
    pub txid: String,
    pub hop: u32,
    pub height: u32,
    /// The block's time, UTC (ISO 8601).
    pub time: String,
    /// The traced (or tainted) value entering through the followed inputs.
    pub followed_in_sat: u64,
    /// The value entering through the other inputs.
    pub joined_sat: u64,
    /// The other inputs, in input order.
    pub inputs: Vec<JoinedInputView>,
}

/// An input that brings outside value into the flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JoinedInputView {
    pub vin: u32,
    /// The output it spends: its txid and index.
    pub txid: String,
    pub vout: u32,
    pub address: Option<String>,
    pub value_sat: u64,
}

/// Satoshis under each taint model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct ByModel {
    pub poison: u64,
    pub haircut: u64,
    pub fifo: u64,
    pub lifo: u64,
}

impl ByModel {
    pub fn get_mut(&mut self, model: crate::engine::TaintModel) -> &mut u64 {
        use crate::engine::TaintModel;
        match model {
            TaintModel::Poison => &mut self.poison,
            TaintModel::Haircut => &mut self.haircut,
            TaintModel::Fifo => &mut self.fifo,
            TaintModel::Lifo => &mut self.lifo,
        }
    }

    /// Whether the models disagree.
    pub fn differs(&self) -> bool {
        let v = [self.poison, self.haircut, self.fifo, self.lifo];
        v.iter().any(|x| *x != v[0])
    }
}

/// `taint --compare`: the four models side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaintCompareView {
    /// Every output tainted under at least one model, by hop, chain order and index.
    pub outputs: Vec<ComparedOutputView>,
    /// First-arrival taint reaching each category, per model.
    pub by_category: Vec<ComparedCategoryView>,
    /// The joins where the models' answers part: the outputs of these txs carry different
    /// taint under different models.
    pub diverging: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComparedOutputView {
    pub txid: String,
    pub vout: u32,
    pub address: Option<String>,
    pub value_sat: u64,
    pub hop: u32,
    pub spent: bool,
    pub time: String,
    pub tainted_sat: ByModel,
    /// The tagged entity it pays, and the taint reaching that entity here for the first time
    /// under each model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<ComparedArrivalView>,
    /// For tables: the address led by its best tag's label.
    #[serde(skip)]
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComparedArrivalView {
    pub label: String,
    pub category: String,
    pub first_arrival_sat: ByModel,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComparedCategoryView {
    pub category: String,
    pub tainted_sat: ByModel,
}

/// Where the taint starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaintSourceView {
    /// The txid, `txid:vout` or address as given.
    pub target: String,
    /// The value of its outputs (for an address, less what reached one of them from another).
    pub tainted_sat: u64,
}

/// An output carrying taint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaintedOutputView {
    pub txid: String,
    pub vout: u32,
    /// `None` for scripts without one (OP_RETURN, bare multisig, P2PK).
    pub address: Option<String>,
    pub value_sat: u64,
    pub tainted_sat: u64,
    /// 0 for the source's outputs, else the hop of its tx.
    pub hop: u32,
    /// Spent as of the indexed tip.
    pub spent: bool,
    pub height: u32,
    /// The block's time, UTC (ISO 8601).
    pub time: String,
    /// Tags of the address; left out when it has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagView>,
    /// The tagged entity it pays (by its own tags or its cluster's), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<ArrivalView>,
    /// For tables: the address (or `op_return` / `script:<hex>`), led by its best tag's label.
    #[serde(skip)]
    pub label: String,
}

/// Taint reaching a tagged entity at one output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArrivalView {
    pub label: String,
    pub category: String,
    /// Reaching an entity for the first time: what exposure counts.
    pub first_arrival_sat: u64,
    /// Already counted at an earlier tagged output: an entity moving funds on (gross).
    pub gross_sat: u64,
}

/// Taint reaching the entities of one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaintCategoryView {
    pub category: String,
    /// At first arrival: the figure exposure gives.
    pub tainted_sat: u64,
    /// Gross: taint the entities received again from an entity (their own funds moving on).
    pub gross_sat: u64,
    /// By entity, largest first.
    pub entities: Vec<TaintEntityView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaintEntityView {
    pub label: String,
    pub tainted_sat: u64,
    pub gross_sat: u64,
}

/// `query verify`: a case report that still holds against the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyView {
    /// The report file checked.
    pub report: String,
    /// The report's network, which the node is on.
    pub network: String,
    /// The report's digest, recomputed and found intact.
    pub digest: String,
    pub hops_checked: usize,
    /// Distinct blocks fetched from the node.
    pub blocks_checked: usize,
    /// The node's best block when the checks began: what "holds" is as of.
    pub tip: crate::report::BlockRef,
    /// Its time, UTC (ISO 8601).
    pub tip_time: String,
    /// The case's particulars, as recorded.
    pub case: crate::report::CaseInfo,
    /// The public key (hex) whose signature over the digest holds; `None` when unsigned.
    pub signed_by: Option<String>,
    /// Whether `--signer` named that key.
    pub signer_expected: bool,
    /// The recorded answer was computed again from the file's outputs alone, and is the same.
    pub answer_recomputed: bool,
    /// Outputs the file records as unspent, checked at the node's tip.
    pub unspent_checked: usize,
    /// Of those, the ones spent in a block after the file's tip, with where.
    pub moved: Vec<MovedView>,
    /// Always true: a report that does not hold is an error.
    pub ok: bool,
}

/// An output a case file records unspent, spent since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovedView {
    /// `txid:vout`.
    pub output: String,
    pub spent_by_txid: String,
    pub spent_by_vin: u32,
    pub height: u32,
}

/// `query keys new`: the key pair written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyView {
    pub secret_key_file: String,
    pub public_key_file: String,
    pub public_key: String,
}

/// A tag as the commands show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagView {
    pub label: String,
    pub category: Option<String>,
    pub source: String,
    /// The confidence level id, e.g. `forensic` (its level is in `confidence_level` where shown).
    pub confidence: String,
    /// Title of the pack that brought it.
    pub pack: String,
}

impl From<&Tag> for TagView {
    fn from(tag: &Tag) -> Self {
        TagView {
            label: tag.label.clone(),
            category: tag.category.clone(),
            source: tag.source.clone(),
            confidence: tag.confidence.clone(),
            pack: tag.pack.clone(),
        }
    }
}

/// A tag with everything the store keeps (`query tags show` and `list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagDetailView {
    #[serde(flatten)]
    pub tag: TagView,
    /// 0..=100.
    pub confidence_level: u8,
    pub abuse: Option<String>,
    pub actor: Option<String>,
    pub is_cluster_definer: bool,
}

impl From<&Tag> for TagDetailView {
    fn from(tag: &Tag) -> Self {
        TagDetailView {
            tag: TagView::from(tag),
            confidence_level: tag.confidence_level,
            abuse: tag.abuse.clone(),
            actor: tag.actor.clone(),
            is_cluster_definer: tag.is_cluster_definer,
        }
    }
}

/// `query tags show <address>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressTagsView {
    pub address: String,
    /// Empty when the address has none.
    pub tags: Vec<TagDetailView>,
}

/// `query tags list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagListView {
    /// Address tags first, then transaction tags, each in the store's key order.
    pub tags: Vec<TaggedView>,
    /// Pass to `--after` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A listed tag with what it is about: an address (`address`, `script_hex`) or a `txid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaggedView {
    pub address: Option<String>,
    pub script_hex: Option<String>,
    pub txid: Option<String>,
    #[serde(flatten)]
    pub tag: TagDetailView,
}

/// `query tags import`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagImportView {
    /// The network of the tag store.
    pub network: String,
    /// The tag store's directory.
    pub store: String,
    /// One per file, in the order given.
    pub packs: Vec<PackImportView>,
    pub total: ImportTotals,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackImportView {
    pub file: String,
    /// The pack's title (a CSV file's name).
    pub title: String,
    /// New tags written.
    pub imported: u64,
    /// Tags of another currency or network, not imported.
    pub skipped: u64,
    /// Tags the store already had (same address or txid, label and source).
    pub duplicates: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportTotals {
    pub imported: u64,
    pub skipped: u64,
    pub duplicates: u64,
}

/// `query tags remove --pack TITLE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagRemoveView {
    pub pack: String,
    /// Tags removed with it.
    pub removed: u64,
}

/// A block time (seconds since 1970, UTC) as ISO 8601: `2009-01-03T18:15:05Z`.
pub fn utc(time: u32) -> String {
    match chrono::DateTime::from_timestamp(i64::from(time), 0) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => time.to_string(),
    }
}

/// The machine's clock now, as [`utc`] writes times.
pub fn utc_now() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    utc(u32::try_from(now).unwrap_or(u32::MAX))
}

/// Satoshis as BTC with 8 decimals.
pub fn btc(sats: u64) -> String {
    format!("{}.{:08}", sats / 100_000_000, sats % 100_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btc_has_eight_decimals() {
        assert_eq!(btc(0), "0.00000000");
        assert_eq!(btc(1), "0.00000001");
        assert_eq!(btc(2_100_000_000_000_000), "21000000.00000000");
        assert_eq!(btc(150_000_000), "1.50000000");
    }

    #[test]
    fn block_times_are_iso_8601_utc() {
        assert_eq!(utc(1_231_006_505), "2009-01-03T18:15:05Z");
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(u32::MAX), "2106-02-07T06:28:15Z");
    }
}
