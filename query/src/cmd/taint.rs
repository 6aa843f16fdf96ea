//! `query taint <txid|txid:vout|address> --model poison|haircut|fifo|lifo`: how much of a source's
//! value each later output carries. The engine follows the taint on tx numbers; this command names
//! the tainted outputs (txid, block, address, tags) and adds their taint up by tag category.

use std::collections::{BTreeMap, HashMap};

use indexer::storage::schema::{OutScript, ScriptNum, TxNum};
use tracing::debug;

use super::exposure::TagAttribution;
use crate::chain::{script_label, tagged_name, Chain, Resolver, TxPlace};
use crate::cli::{TaintArgs, DEFAULT_MIN_SAT, DEFAULT_TAINT_HOPS, HARD_TRACE_MAX_TXS, MAX_HOPS};
use crate::config::Settings;
use crate::engine::{self, Attribution, Taint, TaintLimits, TaintModel, TaintSource, TaintedOutput};
use crate::error::{QueryError, Result, UsageError};
use crate::model::{Body, Report, TagView, TaintCategoryView, TaintSourceView, TaintView, TaintedOutputView};
use crate::params::{self, in_range, opt_in_range};
use crate::target::{Target, TargetSpec};

/// What `query taint` is asked; the defaults are the command line's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaintParams {
    /// A txid, an outpoint `<txid>:<vout>` or an address.
    pub target: String,
    #[serde(deserialize_with = "params::value_enum")]
    pub model: TaintModel,
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
        Ok(())
    }
}

impl From<&TaintArgs> for TaintParams {
    fn from(a: &TaintArgs) -> Self {
        TaintParams { target: a.target.clone(), model: a.model, hops: a.hops, max_txs: a.max_txs, min_sat: a.min_sat }
    }
}

#[derive(Debug)]
pub struct Request {
    target: TargetSpec,
    model: TaintModel,
    hops: u32,
    max_txs: u64,
    min_sat: u64,
}

impl Request {
    pub fn prepare(args: &TaintParams, settings: &Settings) -> Result<Request, UsageError> {
        args.validate()?;
        Ok(Request {
            target: TargetSpec::parse(args.target.trim())?,
            model: args.model,
            hops: args.hops,
            max_txs: args.max_txs.unwrap_or(settings.trace_max_txs),
            min_sat: args.min_sat,
        })
    }

    pub fn run(&self, chain: &Chain) -> Result<Report> {
        let target = self.target.resolve(chain)?;
        let mut notes = target.notes();
        let source = match &target {
            Target::Tx { num, .. } => TaintSource::Tx(*num),
            Target::Outpoint { num, vout, .. } => TaintSource::Output(*num, *vout),
            Target::Script { num: Some(num), .. } => {
                notes.extend(chain.addresses_note()?);
                TaintSource::Script(*num)
            }
            Target::Script { num: None, address } => {
                return Err(QueryError::UnseenAddress { address: address.clone(), tip: chain.tip_text() })
            }
        };
        let limits = TaintLimits {
            model: self.model,
            hops: self.hops,
            max_txs: usize::try_from(self.max_txs).unwrap_or(usize::MAX),
            min_sat: self.min_sat,
        };
        let started = std::time::Instant::now();
        let taint = engine::taint(chain.store(), source, &limits)?;
        debug!(
            outputs = taint.outputs.len(),
            txs = taint.txs,
            truncated = taint.truncated,
            engine_ms = started.elapsed().as_secs_f64() * 1e3,
            "tainted"
        );
        notes.extend(self.notes(&target, &taint));
        let by_category = categories(chain, &taint.outputs, &mut notes)?;
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
            by_category,
        };
        Ok(Report { body: Body::Taint(view), notes })
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

/// The taint of the outputs paying addresses an entity's tags (or its cluster's) name, by the
/// entity's category, largest first; empty without tags.
fn categories(chain: &Chain, outputs: &[TaintedOutput], notes: &mut Vec<String>) -> Result<Vec<TaintCategoryView>> {
    let Some(tags) = chain.tags() else { return Ok(Vec::new()) };
    let clusters = chain.clusters()?;
    if let Some(note) = clusters.as_ref().and_then(|c| c.note.clone()) {
        notes.push(note);
    }
    let mut attribution = TagAttribution::new(chain, tags, clusters.is_some());
    let mut sums: BTreeMap<String, u64> = BTreeMap::new();
    for o in outputs {
        let OutScript::Num(script) = o.script else { continue };
        if let Some(entity) = attribution.entity(script)? {
            *sums.entry(entity.category).or_default() += o.tainted;
        }
    }
    let mut out: Vec<TaintCategoryView> =
        sums.into_iter().map(|(category, tainted_sat)| TaintCategoryView { category, tainted_sat }).collect();
    out.sort_by(|a, b| b.tainted_sat.cmp(&a.tainted_sat).then_with(|| a.category.cmp(&b.category)));
    Ok(out)
}
