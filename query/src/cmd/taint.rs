//! `query taint <txid|txid:vout|address> --model poison|haircut|fifo|lifo`: how much of a source's
//! value each later output carries. The engine follows the taint on tx numbers; this command names
//! the tainted outputs (txid, block, address, tags) and adds their taint up by tag category.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use indexer::storage::schema::{OutScript, ScriptNum, TxNum};
use tracing::debug;

use super::exposure::TagAttribution;
use crate::chain::{script_label, tagged_name, Chain, ClusterStage, Resolver, TxPlace};
use crate::cli::{TaintArgs, DEFAULT_MIN_SAT, DEFAULT_TAINT_HOPS, HARD_TRACE_MAX_TXS, MAX_HOPS};
use crate::config::Settings;
use crate::engine::{self, Taint, TaintLimits, TaintModel, TaintSource, TaintedOutput};
use crate::error::{QueryError, Result, UsageError};
use crate::model::{
    ArrivalView, Body, ByModel, ComparedArrivalView, ComparedCategoryView, ComparedOutputView, Report, TagView,
    TaintCategoryView, TaintCompareView, TaintEntityView, TaintSourceView, TaintView, TaintedOutputView,
};
use crate::params::{self, in_range, opt_in_range};
use crate::target::{Target, TargetSpec};

/// What `query taint` is asked; the defaults are the command line's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaintParams {
    /// A txid, an outpoint `<txid>:<vout>` or an address.
    pub target: String,
    /// Required unless `compare`.
    #[serde(default, deserialize_with = "params::opt_value_enum")]
    pub model: Option<TaintModel>,
    #[serde(default)]
    pub compare: bool,
    /// 1..=100.
    #[serde(default = "default_hops")]
    pub hops: u32,
    /// 1..=1000000; the settings' `trace_max_txs` when left out.
    #[serde(default)]
    pub max_txs: Option<u64>,
    /// Satoshis; from text, satoshis or BTC.
    #[serde(default = "default_min_sat", deserialize_with = "params::amount")]
    pub min_sat: u64,
}

fn default_hops() -> u32 {
    DEFAULT_TAINT_HOPS
}

fn default_min_sat() -> u64 {
    DEFAULT_MIN_SAT
}

impl TaintParams {
    /// The checks clap makes of the flags, for parameters built without it.
    pub fn validate(&self) -> Result<(), UsageError> {
        in_range("hops", self.hops, 1, MAX_HOPS)?;
        opt_in_range("max_txs", self.max_txs, 1, HARD_TRACE_MAX_TXS)?;
        if self.model.is_none() && !self.compare {
            return Err(UsageError::Missing { name: "model", hint: "poison, haircut, fifo or lifo (or set compare)" });
        }
        Ok(())
    }
}

impl From<&TaintArgs> for TaintParams {
    fn from(a: &TaintArgs) -> Self {
        TaintParams {
            target: a.target.clone(),
            model: a.model,
            compare: a.compare,
            hops: a.hops,
            max_txs: a.max_txs,
            min_sat: a.min_sat,
        }
    }
}

#[derive(Debug)]
pub struct Request {
    target: TargetSpec,
    model: TaintModel,
    compare: bool,
    hops: u32,
    max_txs: u64,
    min_sat: u64,
    /// The only txs taint is followed into, when set (a case file's flow).
    within: Option<HashSet<TxNum>>,
}

/// The four models, in the order they are compared.
const MODELS: [TaintModel; 4] = [TaintModel::Poison, TaintModel::Haircut, TaintModel::Fifo, TaintModel::Lifo];

impl Request {
    pub fn prepare(args: &TaintParams, settings: &Settings) -> Result<Request, UsageError> {
        args.validate()?;
        Ok(Request {
            target: TargetSpec::parse(args.target.trim())?,
            model: args.model.unwrap_or(TaintModel::Haircut),
            compare: args.compare,
            hops: args.hops,
            max_txs: args.max_txs.unwrap_or(settings.trace_max_txs),
            min_sat: args.min_sat,
            within: None,
        })
    }

    /// The four models side by side (haircut listed in full), as `taint --compare` with every
    /// option given, followed only into the txs `within`: for case files.
    pub fn compared(
        target: &str,
        hops: u32,
        max_txs: u64,
        min_sat: u64,
        within: HashSet<TxNum>,
    ) -> Result<Request, UsageError> {
        in_range("hops", hops, 1, MAX_HOPS)?;
        in_range("max_txs", max_txs, 1, HARD_TRACE_MAX_TXS)?;
        Ok(Request {
            target: TargetSpec::parse(target.trim())?,
            model: TaintModel::Haircut,
            compare: true,
            hops,
            max_txs,
            min_sat,
            within: Some(within),
        })
    }

    pub fn run(&self, chain: &Chain) -> Result<Report> {
        let target = self.target.resolve(chain)?;
        let mut notes = target.notes();
        let source = taint_source(chain, &target)?;
        if matches!(source, TaintSource::Script(_)) {
            notes.extend(chain.addresses_note()?);
        }
        let clusters = tag_clusters(chain)?;
        if let Some(note) = clusters.as_ref().and_then(|c| c.note.clone()) {
            notes.push(note);
        }
        let started = std::time::Instant::now();
        let taint = self.follow(chain, source, self.model, clusters.is_some())?;
        debug!(
            outputs = taint.outputs.len(),
            txs = taint.txs,
            truncated = taint.truncated,
            engine_ms = started.elapsed().as_secs_f64() * 1e3,
            "tainted"
        );
        notes.extend(self.notes(&target, &taint));
        let compare = match self.compare {
            true => Some(self.compare(chain, source, clusters.is_some(), &taint)?),
            false => None,
        };
        let view = TaintView {
            model: self.model.name(),
            source: TaintSourceView { target: target.label(), tainted_sat: taint.source },
            hops: self.hops,
            max_txs: self.max_txs,
            min_sat: self.min_sat,
            outputs: output_views(chain, &taint.outputs)?,
            frontier_tainted_sat: taint.frontier,
            fees_tainted_sat: taint.fees,
            truncated: taint.truncated,
            by_category: categories(&taint.outputs),
            joins: super::resolve::join_views(chain, &taint.joins)?,
            compare,
        };
        Ok(Report { body: Body::Taint(view), notes })
    }

    /// The four models side by side alone, and the source's value, without the full listing of
    /// `run`: what a case file's request section needs.
    pub fn run_compared(&self, chain: &Chain) -> Result<(u64, TaintCompareView)> {
        let source = taint_source(chain, &self.target.resolve(chain)?)?;
        let clusters = tag_clusters(chain)?.is_some();
        let listed = self.follow(chain, source, self.model, clusters)?;
        Ok((listed.source, self.compare(chain, source, clusters, &listed)?))
    }

    /// The taint of `source` under `model`, naming entities when tags are loaded.
    fn follow(&self, chain: &Chain, source: TaintSource, model: TaintModel, clusters: bool) -> Result<Taint> {
        let limits = TaintLimits {
            model,
            hops: self.hops,
            max_txs: usize::try_from(self.max_txs).unwrap_or(usize::MAX),
            min_sat: self.min_sat,
        };
        Ok(match chain.tags() {
            Some(tags) => {
                let mut attribution = TagAttribution::new(chain, tags, clusters);
                engine::taint(chain.store(), source, &limits, &mut attribution, self.within.as_ref())?
            }
            None => engine::taint(chain.store(), source, &limits, &mut engine::Untagged, self.within.as_ref())?,
        })
    }

    /// The four models side by side; `listed` is the taint under the model listed in full.
    fn compare(&self, chain: &Chain, source: TaintSource, clusters: bool, listed: &Taint) -> Result<TaintCompareView> {
        let mut rows: BTreeMap<(u32, TxNum, u32), (TaintedOutput, ByModel, ByModel)> = BTreeMap::new();
        let mut categories: BTreeMap<String, ByModel> = BTreeMap::new();
        let mut joins: BTreeSet<TxNum> = BTreeSet::new();
        for model in MODELS {
            let other;
            let taint = match model == self.model {
                true => listed,
                false => {
                    other = self.follow(chain, source, model, clusters)?;
                    &other
                }
            };
            for o in &taint.outputs {
                let row = rows
                    .entry((o.hop, o.num, o.vout))
                    .or_insert_with(|| (o.clone(), ByModel::default(), ByModel::default()));
                *row.1.get_mut(model) += o.tainted;
                *row.2.get_mut(model) += o.tainted - o.earlier;
                if row.0.entity.is_none() {
                    row.0.entity = o.entity.clone();
                }
            }
            for c in self::categories(&taint.outputs) {
                *categories.entry(c.category).or_default().get_mut(model) += c.tainted_sat;
            }
            joins.extend(taint.joins.iter().map(|j| j.num));
        }
        // A join parts the models when its outputs carry different taint under them.
        let parted: BTreeSet<TxNum> = rows.values().filter(|(_, m, _)| m.differs()).map(|(o, _, _)| o.num).collect();
        let mut resolver = Resolver::new(chain);
        let diverging = joins.intersection(&parted).map(|&n| Ok(resolver.place(n)?.txid)).collect::<Result<_>>()?;
        let (outputs, by_model): (Vec<TaintedOutput>, Vec<(ByModel, ByModel)>) =
            rows.into_values().map(|(o, t, f)| (o, (t, f))).unzip();
        let views = output_views(chain, &outputs)?;
        let outputs = views
            .into_iter()
            .zip(by_model)
            .zip(&outputs)
            .map(|((v, (tainted_sat, first)), o)| ComparedOutputView {
                txid: v.txid,
                vout: v.vout,
                address: v.address,
                value_sat: v.value_sat,
                hop: v.hop,
                spent: v.spent,
                time: v.time,
                tainted_sat,
                entity: o.entity.as_ref().map(|e| ComparedArrivalView {
                    label: e.label.clone(),
                    category: e.category.clone(),
                    first_arrival_sat: first,
                }),
                label: v.label,
            })
            .collect();
        let mut by_category: Vec<ComparedCategoryView> = categories
            .into_iter()
            .map(|(category, tainted_sat)| ComparedCategoryView { category, tainted_sat })
            .collect();
        by_category.sort_by(|a, b| b.tainted_sat.haircut.cmp(&a.tainted_sat.haircut).then(a.category.cmp(&b.category)));
        Ok(TaintCompareView { outputs, by_category, diverging })
    }

    /// What the reader should know about how far the answer goes.
    fn notes(&self, target: &Target, t: &Taint) -> Vec<String> {
        let mut notes = Vec::new();
        if t.source == 0 {
            notes.push(format!("{} has nothing to taint: its outputs hold no value", target.label()));
        }
        if t.truncated {
            notes.push(format!(
                "stopped at --max-txs {}: taint reaching later txs stays in the frontier (raise --max-txs or lower --hops)",
                self.max_txs
            ));
        }
        let at_limit: u64 = t.outputs.iter().filter(|o| o.hop == self.hops && o.spent).map(|o| o.tainted).sum();
        if at_limit > 0 {
            notes.push(format!(
                "{at_limit} sat of taint sit in spent outputs at hop {}: raise --hops to follow them",
                self.hops
            ));
        }
        let total = t.frontier + t.fees;
        if self.model == TaintModel::Poison && total > t.source {
            notes.push(format!(
                "poison taints whole outputs and fees: frontier plus fees ({total} sat) exceed the source ({} sat)",
                t.source
            ));
        }
        notes
    }
}

/// Where the taint of a resolved target starts; an address the chain never paid has none.
fn taint_source(chain: &Chain, target: &Target) -> Result<TaintSource> {
    Ok(match target {
        Target::Tx { num, .. } => TaintSource::Tx(*num),
        Target::Outpoint { num, vout, .. } => TaintSource::Output(*num, *vout),
        Target::Script { num: Some(num), .. } => TaintSource::Script(*num),
        Target::Script { num: None, address } => {
            return Err(QueryError::UnseenAddress { address: address.clone(), tip: chain.tip_text() })
        }
    })
}

/// The clusters stage, when tags are loaded and clusters can name entities; else none.
fn tag_clusters(chain: &Chain) -> Result<Option<ClusterStage>> {
    match chain.tags() {
        Some(_) => chain.clusters(),
        None => Ok(None),
    }
}

/// Who an output pays, as shown: its address, its tags and its name for tables.
#[derive(Clone)]
struct Owner {
    address: Option<String>,
    tags: Vec<TagView>,
    label: String,
}

/// The outputs as shown, with their txids, blocks, addresses and tags.
fn output_views(chain: &Chain, outputs: &[TaintedOutput]) -> Result<Vec<TaintedOutputView>> {
    let mut resolver = Resolver::new(chain);
    let mut places: HashMap<TxNum, TxPlace> = HashMap::new();
    let mut owners: HashMap<ScriptNum, Owner> = HashMap::new();
    let mut views = Vec::with_capacity(outputs.len());
    for o in outputs {
        let place = match places.get(&o.num) {
            Some(place) => place.clone(),
            None => places.entry(o.num).or_insert(resolver.place(o.num)?).clone(),
        };
        let owner = match &o.script {
            OutScript::Num(num) => match owners.get(num) {
                Some(known) => known.clone(),
                None => owners.entry(*num).or_insert(owner(chain, *num)?).clone(),
            },
            OutScript::Unspendable(bytes) => Owner { address: None, tags: Vec::new(), label: script_label(bytes) },
        };
        views.push(TaintedOutputView {
            txid: place.txid,
            vout: o.vout,
            address: owner.address,
            value_sat: o.value,
            tainted_sat: o.tainted,
            hop: o.hop,
            spent: o.spent,
            height: place.height,
            time: place.time,
            tags: owner.tags,
            entity: o.entity.as_ref().map(|e| ArrivalView {
                label: e.label.clone(),
                category: e.category.clone(),
                first_arrival_sat: o.tainted - o.earlier,
                gross_sat: o.earlier,
            }),
            label: owner.label,
        });
    }
    Ok(views)
}

fn owner(chain: &Chain, num: ScriptNum) -> Result<Owner> {
    let bytes = chain.script_bytes(num)?;
    let address = chain.address_of(&bytes);
    let tags = chain.script_tags(&bytes)?;
    let label = tagged_name(&address.clone().unwrap_or_else(|| script_label(&bytes)), &tags);
    Ok(Owner { address, tags, label })
}

/// The taint reaching tagged entities, by category and entity, largest first: at first arrival,
/// and gross (received from an entity). Empty without tags.
pub(crate) fn categories(outputs: &[TaintedOutput]) -> Vec<TaintCategoryView> {
    let mut sums: BTreeMap<&str, BTreeMap<&str, (u64, u64)>> = BTreeMap::new();
    for o in outputs {
        let Some(entity) = &o.entity else { continue };
        let sum = sums.entry(&entity.category).or_default().entry(&entity.label).or_default();
        sum.0 += o.tainted - o.earlier;
        sum.1 += o.earlier;
    }
    let mut out: Vec<TaintCategoryView> = sums
        .into_iter()
        .map(|(category, entities)| {
            let mut entities: Vec<TaintEntityView> = entities
                .into_iter()
                .map(|(label, (first, gross))| TaintEntityView {
                    label: label.into(),
                    tainted_sat: first,
                    gross_sat: gross,
                })
                .collect();
            entities.sort_by(|a, b| b.tainted_sat.cmp(&a.tainted_sat).then_with(|| a.label.cmp(&b.label)));
            TaintCategoryView {
                category: category.into(),
                tainted_sat: entities.iter().map(|e| e.tainted_sat).sum(),
                gross_sat: entities.iter().map(|e| e.gross_sat).sum(),
                entities,
            }
        })
        .collect();
    out.sort_by(|a, b| b.tainted_sat.cmp(&a.tainted_sat).then_with(|| a.category.cmp(&b.category)));
    out
}
