//! What a picture shows, before any layout: nodes with their look and label, arrows with their
//! value. Built from the kept txs of a trace or path, for either `--draw` kind.

use std::cmp::Reverse;
use std::collections::HashMap;

use super::cut::Shown;
use super::{btc_short, short_txid, when, who, Flow};
use crate::cli::Draw;
use crate::model::{btc, DestinationView, EdgeView, JoinView, TagView, TxNode};

/// A tx's destinations beyond this many (the largest by traced value stay) are one dashed box.
pub const MAX_OUTPUTS_PER_TX: usize = 10;

/// What a node is: it decides the node's style and its line in the legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Look {
    Root,
    Tx,
    StoppedTx,
    RootDot,
    Dot,
    StoppedDot,
    /// `--draw addresses`: an address the picture shows being paid and spent.
    Address,
    Unspent,
    /// Paths: a target output spent later.
    Spent,
    Unspendable,
    StopAddress,
    /// The branch ends at a limit: hop limit, `--max-txs`, `--min-value`, `--follow`/`--top`.
    NotFollowed,
    Coinbase,
    /// Txs of a big trace, or a tx's smallest destinations, left out of the picture.
    LeftOut,
    /// Value from outside the traced flow joining a tx.
    Joined,
}

impl Look {
    /// Where a branch ends, by its destination state; the most telling state wins on a node
    /// holding several.
    fn of_state(state: &str) -> Look {
        match state {
            "stopped" => Look::StopAddress,
            "unspent" => Look::Unspent,
            "coinbase" => Look::Coinbase,
            "unspendable" => Look::Unspendable,
            "spent" => Look::Spent,
            _ => Look::NotFollowed,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Look::StopAddress => 6,
            Look::Unspent => 5,
            Look::Coinbase => 4,
            Look::NotFollowed => 3,
            Look::Unspendable => 2,
            Look::Spent => 1,
            _ => 0,
        }
    }
}

pub struct Vertex {
    /// The dot id.
    pub id: String,
    pub look: Look,
    pub tagged: bool,
    pub label: Vec<String>,
    /// Small text beside a dot.
    pub xlabel: Vec<String>,
    pub tooltip: String,
    /// The hop of the tx it is, or of the tx it hangs off.
    pub hop: u32,
    /// A tx: it lines up in its hop's column.
    pub column: bool,
}

pub struct Edge {
    pub from: String,
    pub to: String,
    pub value_sat: u64,
    pub label: Vec<String>,
    pub tooltip: String,
    /// Leads to txs left out of the picture.
    pub dashed: bool,
}

/// Everything a picture draws.
#[derive(Default)]
pub struct Picture {
    /// Txs are dots between addresses (`--draw addresses`).
    pub dots: bool,
    pub nodes: Vec<Vertex>,
    pub edges: Vec<Edge>,
    /// Destination states of the `NotFollowed` nodes, in order of appearance.
    pub cut_states: Vec<&'static str>,
    /// Vertex index by id.
    index: HashMap<String, usize>,
    /// Edge index by (from, to): parallel arrows are summed into one.
    arrows: HashMap<(String, String), usize>,
    /// What reached or left each address node.
    sums: HashMap<String, Sums>,
}

/// The values an address node adds up, and why branches end there.
#[derive(Default)]
struct Sums {
    value_in: u64,
    value_out: u64,
    traced: Option<u64>,
    percent: f64,
    states: Vec<&'static str>,
}

/// One side of a spend or destination: an address (or a lone output without one).
struct Spot<'a> {
    id: String,
    address: Option<&'a str>,
    tags: &'a [TagView],
    label: &'a str,
    hop: u32,
}

pub fn build(g: &Flow, shown: &Shown, draw: Draw) -> Picture {
    let dots = draw == Draw::Addresses;
    let mut pic = Picture { dots, ..Picture::default() };
    let kept: HashMap<&str, &TxNode> =
        g.nodes.iter().zip(&shown.keep).filter(|(_, k)| **k).map(|(n, _)| (n.txid.as_str(), n)).collect();
    for n in g.nodes.iter().zip(&shown.keep).filter(|(_, k)| **k).map(|(n, _)| n) {
        pic.add_node(tx_node(n, dots, g.backward));
    }
    for e in g.edges {
        if let (Some(from), Some(_)) = (kept.get(e.from_txid.as_str()), kept.get(e.to_txid.as_str())) {
            pic.add_spend(e, from.hop);
        }
    }
    for (tx, destinations) in destinations_by_tx(g.destinations, &kept) {
        let (drawn, folded) = largest(destinations);
        for d in drawn {
            pic.add_destination(d, tx.hop);
        }
        pic.add_folded(tx, &folded, g.backward);
    }
    for stub in &shown.stubs {
        pic.add_stub(&g.nodes[stub.tx], stub.txs, stub.value_sat, g.backward);
    }
    for join in g.joins {
        if let Some(tx) = kept.get(join.txid.as_str()) {
            pic.add_join(join, tx);
        }
    }
    pic.finish_spots();
    pic
}

/// The destinations of each kept tx, the txs in order of their first destination.
fn destinations_by_tx<'a>(
    destinations: &'a [DestinationView],
    kept: &HashMap<&str, &'a TxNode>,
) -> Vec<(&'a TxNode, Vec<&'a DestinationView>)> {
    let mut groups: Vec<(&TxNode, Vec<&DestinationView>)> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for d in destinations {
        let Some(&tx) = kept.get(d.txid.as_str()) else { continue };
        let i = *at.entry(d.txid.as_str()).or_insert_with(|| {
            groups.push((tx, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(d);
    }
    groups
}

/// A tx's [`MAX_OUTPUTS_PER_TX`] largest destinations (by traced value, then value), in their
/// order, and the others.
fn largest(destinations: Vec<&DestinationView>) -> (Vec<&DestinationView>, Vec<&DestinationView>) {
    if destinations.len() <= MAX_OUTPUTS_PER_TX {
        return (destinations, Vec::new());
    }
    let mut order: Vec<usize> = (0..destinations.len()).collect();
    order.sort_by_key(|&i| (Reverse(destinations[i].traced_sat.unwrap_or(destinations[i].value_sat)), i));
    let mut drawn = vec![false; destinations.len()];
    for &i in &order[..MAX_OUTPUTS_PER_TX] {
        drawn[i] = true;
    }
    let (mut shown, mut folded) = (Vec::new(), Vec::new());
    for (d, keep) in destinations.into_iter().zip(drawn) {
        if keep {
            shown.push(d);
        } else {
            folded.push(d);
        }
    }
    (shown, folded)
}

fn tx_node(n: &TxNode, dots: bool, backward: bool) -> Vertex {
    let look = match (n.hop == 0, n.stopped, dots) {
        (true, _, false) => Look::Root,
        (true, _, true) => Look::RootDot,
        (false, true, false) => Look::StoppedTx,
        (false, true, true) => Look::StoppedDot,
        (false, false, false) => Look::Tx,
        (false, false, true) => Look::Dot,
    };
    let tag = n.tags.first().map(|t| t.label.clone());
    let stop = if backward { "spends from a stop address" } else { "pays a stop address" };
    let mut tooltip = format!("tx {}\n{}, height {}, hop {}", n.txid, when(&n.time), n.height, n.hop);
    if let Some(tag) = &tag {
        tooltip.push_str(&format!("\ntag: {tag}"));
    }
    for a in &n.stopped_at {
        tooltip.push_str(&format!("\n{stop}: {a}"));
    }
    let (label, xlabel) = if dots {
        let day = n.time.get(..10).unwrap_or(&n.time).to_string();
        let mut xlabel: Vec<String> = tag.into_iter().collect();
        xlabel.extend([n.txid.get(..8).unwrap_or(&n.txid).to_string(), day]);
        (Vec::new(), xlabel)
    } else {
        let mut label = vec![short_txid(&n.txid), when(&n.time), format!("height {}, hop {}", n.height, n.hop)];
        label.extend(tag);
        if n.stopped {
            label.push(stop.to_string());
        }
        (label, Vec::new())
    };
    Vertex { id: n.txid.clone(), look, tagged: !n.tags.is_empty(), label, xlabel, tooltip, hop: n.hop, column: true }
}

fn tooltip(e: &EdgeView) -> String {
    format!("{}:{} → {}:{}\n{} BTC to {}", e.from_txid, e.vout, e.to_txid, e.vin, btc(e.value_sat), e.label)
}

/// The node id of an address, or of an output without one.
fn spot_id(address: Option<&str>, outpoint: &str) -> String {
    match address {
        Some(a) => format!("address:{a}"),
        None => format!("output:{outpoint}"),
    }
}

impl Picture {
    fn add_node(&mut self, node: Vertex) {
        if !self.index.contains_key(&node.id) {
            self.index.insert(node.id.clone(), self.nodes.len());
            self.nodes.push(node);
        }
    }

    /// A spend edge: an arrow between two txs, or, with dots, through the address it pays.
    fn add_spend(&mut self, e: &EdgeView, hop: u32) {
        if !self.dots {
            let mut label = vec![btc_short(e.value_sat)];
            label.extend(who(e.address.as_deref(), &e.tags, &e.label));
            let (from, to) = (e.from_txid.clone(), e.to_txid.clone());
            self.edges.push(Edge { from, to, value_sat: e.value_sat, label, tooltip: tooltip(e), dashed: false });
            return;
        }
        let spot = Spot {
            id: spot_id(e.address.as_deref(), &format!("{}:{}", e.from_txid, e.vout)),
            address: e.address.as_deref(),
            tags: &e.tags,
            label: &e.label,
            hop,
        };
        self.add_spot(&spot, None);
        self.add_arrow(&e.from_txid, &spot.id, e.value_sat, tooltip(e), false);
        self.add_arrow(&spot.id, &e.to_txid, e.value_sat, tooltip(e), false);
        self.sum(&spot.id, |s| {
            s.value_in += e.value_sat;
            s.value_out += e.value_sat;
        });
    }

    /// An arrow without a label of its own but its value; parallel ones add up.
    fn add_arrow(&mut self, from: &str, to: &str, value_sat: u64, tooltip: String, dashed: bool) {
        let key = (from.to_string(), to.to_string());
        if let Some(&i) = self.arrows.get(&key) {
            let edge = &mut self.edges[i];
            edge.value_sat += value_sat;
            edge.label = vec![btc_short(edge.value_sat)];
            edge.tooltip.push('\n');
            edge.tooltip.push_str(&tooltip);
            return;
        }
        self.arrows.insert(key, self.edges.len());
        let label = vec![btc_short(value_sat)];
        self.edges.push(Edge { from: from.into(), to: to.into(), value_sat, label, tooltip, dashed });
    }

    fn add_spot(&mut self, spot: &Spot, state: Option<&'static str>) {
        let look = state.map_or(Look::Address, Look::of_state);
        if let Some(&i) = self.index.get(&spot.id) {
            let node = &mut self.nodes[i];
            if look.rank() > node.look.rank() {
                node.look = look;
            }
        } else {
            let mut tooltip = spot.address.unwrap_or(spot.label).to_string();
            for t in spot.tags {
                tooltip.push_str(&format!("\ntag: {} ({})", t.label, t.source));
            }
            let label = who(spot.address, spot.tags, spot.label);
            let tagged = !spot.tags.is_empty();
            let node = Vertex {
                id: spot.id.clone(),
                look,
                tagged,
                label,
                xlabel: Vec::new(),
                tooltip,
                hop: spot.hop,
                column: false,
            };
            self.add_node(node);
        }
        if let Some(state) = state {
            self.sum(&spot.id, |s| {
                if !s.states.contains(&state) {
                    s.states.push(state);
                }
            });
            if Look::of_state(state) == Look::NotFollowed && !self.cut_states.contains(&state) {
                self.cut_states.push(state);
            }
        }
    }

    fn sum(&mut self, id: &str, f: impl FnOnce(&mut Sums)) {
        f(self.sums.entry(id.to_string()).or_default());
    }

    fn add_destination(&mut self, d: &DestinationView, hop: u32) {
        let (place, label) = match (d.vout, d.vin) {
            (Some(vout), _) => (format!("{}:{vout}", d.txid), d.label.as_str()),
            (None, Some(vin)) => (format!("{}:in{vin}", d.txid), d.label.as_str()),
            (None, None) => (d.txid.clone(), d.label.as_str()),
        };
        let spot = Spot {
            id: spot_id(d.address.as_deref(), &place),
            address: d.address.as_deref(),
            tags: &d.tags,
            label,
            hop,
        };
        self.add_spot(&spot, Some(d.state));
        let into_tx = d.vin.is_some();
        self.sum(&spot.id, |s| {
            if into_tx {
                s.value_out += d.value_sat;
            } else {
                s.value_in += d.value_sat;
            }
            if let Some(t) = d.traced_sat {
                s.traced = Some(s.traced.unwrap_or(0) + t);
                s.percent += d.percent.unwrap_or(0.0);
            }
        });
        let source = d.prev_output.as_deref().unwrap_or(label);
        let tooltip = match (d.vout, d.vin) {
            (Some(vout), _) => format!("{}:{vout} pays {} BTC to {label}: {}", d.txid, btc(d.value_sat), d.state),
            _ => format!(
                "{}:in{} spends {} BTC from {source}: {}",
                d.txid,
                d.vin.unwrap_or(0),
                btc(d.value_sat),
                d.state
            ),
        };
        if into_tx {
            self.add_arrow(&spot.id, &d.txid, d.value_sat, tooltip, false);
        } else {
            self.add_arrow(&d.txid, &spot.id, d.value_sat, tooltip, false);
        }
    }

    /// One dashed box for the txs left out one hop further out from `tx`.
    fn add_stub(&mut self, tx: &TxNode, txs: usize, value_sat: u64, backward: bool) {
        let label = vec![format!("{txs} more {}", if txs == 1 { "tx" } else { "txs" }), "not drawn".into()];
        let tooltip = format!("{txs} txs next to {} left out of this picture", tx.txid);
        self.add_left_out(format!("left_out:{}", tx.txid), tx, label, tooltip, value_sat, backward);
    }

    /// One dashed box for the destinations of `tx` left out of the picture.
    fn add_folded(&mut self, tx: &TxNode, folded: &[&DestinationView], backward: bool) {
        if folded.is_empty() {
            return;
        }
        let value_sat: u64 = folded.iter().map(|d| d.value_sat).sum();
        let traced: Option<u64> = folded.iter().map(|d| d.traced_sat).sum();
        let what = if backward { "inputs" } else { "outputs" };
        let mut label = vec![format!("{} more {what}", folded.len()), btc_short(value_sat)];
        label.extend(traced.map(|t| format!("traced {}", btc_short(t))));
        label.push("not drawn".into());
        let tooltip = format!("{} {what} of {} where branches end, left out of this picture", folded.len(), tx.txid);
        self.add_left_out(format!("left_out_ends:{}", tx.txid), tx, label, tooltip, value_sat, backward);
    }

    /// A dashed box for the value joining `tx` from outside the trace, with a dashed arrow in.
    fn add_join(&mut self, join: &JoinView, tx: &TxNode) {
        let inputs = join.inputs.len();
        let label = vec![
            "outside value joins".to_string(),
            btc_short(join.joined_sat),
            format!("{inputs} untraced input{}", if inputs == 1 { "" } else { "s" }),
        ];
        let spent: Vec<String> = join.inputs.iter().map(|i| format!("{}:{}", i.txid, i.vout)).collect();
        let tooltip = format!("{} joins {} through {}", btc(join.joined_sat), join.txid, spent.join(", "));
        let id = format!("joined:{}", join.txid);
        let node = Vertex {
            id: id.clone(),
            look: Look::Joined,
            tagged: false,
            label,
            xlabel: Vec::new(),
            tooltip: tooltip.clone(),
            hop: tx.hop,
            column: false,
        };
        self.add_node(node);
        self.add_arrow(&id, &tx.txid, join.joined_sat, tooltip, true);
    }

    /// A dashed box beside `tx`, joined to it the way the money went.
    fn add_left_out(&mut self, id: String, tx: &TxNode, label: Vec<String>, tooltip: String, value: u64, back: bool) {
        let arrow = tooltip.clone();
        let look = Look::LeftOut;
        let node = Vertex { id, look, tagged: false, label, xlabel: Vec::new(), tooltip, hop: tx.hop, column: false };
        let id = node.id.clone();
        self.add_node(node);
        if back {
            self.add_arrow(&id, &tx.txid, value, arrow, true);
        } else {
            self.add_arrow(&tx.txid, &id, value, arrow, true);
        }
    }

    /// Puts the sums of each address node into its label.
    fn finish_spots(&mut self) {
        for node in &mut self.nodes {
            let Some(s) = self.sums.get(&node.id) else { continue };
            node.label.push(btc_short(s.value_in.max(s.value_out)));
            if let Some(traced) = s.traced {
                node.label.push(format!("traced {} ({:.2}%)", btc_short(traced), s.percent));
            }
            if !s.states.is_empty() {
                let states: Vec<&str> = s.states.iter().map(|s| state_text(s)).collect();
                node.label.push(states.join(", "));
            }
        }
    }
}

/// How a destination state reads in a picture.
pub fn state_text(state: &str) -> &str {
    match state {
        "stopped" => "stop address",
        "hop_limit" => "hop limit",
        "max_txs" => "--max-txs reached",
        "below_min_value" => "below --min-value",
        "not_followed" => "not followed",
        "spent" => "spent later",
        other => other,
    }
}
