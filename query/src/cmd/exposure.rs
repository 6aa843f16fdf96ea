//! `query exposure <address|txid>`: how much of what the target sent (out) or received (in)
//! reached (or came from) tagged entities, by category. The engine follows the flows; this
//! command names entities from the tag store, by an address's own tags or else its cluster's.

use std::collections::HashMap;

use indexer::stages::clusters::read;
use indexer::storage::schema::{OutScript, ScriptNum};
use indexer::storage::store::hex_hash;
use tracing::debug;

use crate::chain::Chain;
use crate::cli::{ExposureArgs, ExposureDirection, DEFAULT_HOPS, HARD_TRACE_MAX_TXS, MAX_HOPS};
use crate::config::Settings;
use crate::engine::{
    self, Attributed, Attribution, CategoryValue, Entity, Exposure, ExposureLimits, Source, UNCATEGORIZED,
};
use crate::error::{QueryError, Result, UsageError};
use crate::model::{AttributionView, Body, CategoryExposure, EntityExposure, ExposureView, Report, UnattributedView};
use crate::params::{self, in_range, opt_in_range};
use crate::tags::{Tag, TagStore};
use crate::target::{Target, TargetSpec};

/// What `query exposure` is asked; the defaults are the command line's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposureParams {
    /// An address or a txid.
    pub target: String,
    #[serde(default = "default_direction", deserialize_with = "params::value_enum")]
    pub direction: ExposureDirection,
    /// 0..=100.
    #[serde(default = "default_hops")]
    pub hops: u32,
    /// 1..=1000000; the settings' `trace_max_txs` when left out.
    #[serde(default)]
    pub max_txs: Option<u64>,
}

fn default_direction() -> ExposureDirection {
    ExposureDirection::Out
}

fn default_hops() -> u32 {
    DEFAULT_HOPS
}

impl ExposureParams {
    /// The checks clap makes of the flags, for parameters built without it.
    pub fn validate(&self) -> Result<(), UsageError> {
        in_range("hops", self.hops, 0, MAX_HOPS)?;
        opt_in_range("max_txs", self.max_txs, 1, HARD_TRACE_MAX_TXS)?;
        Ok(())
    }
}

impl From<&ExposureArgs> for ExposureParams {
    fn from(a: &ExposureArgs) -> Self {
        ExposureParams { target: a.target.clone(), direction: a.direction, hops: a.hops, max_txs: a.max_txs }
    }
}

#[derive(Debug)]
pub struct Request {
    target: TargetSpec,
    direction: ExposureDirection,
    hops: u32,
    max_txs: u64,
}

impl Request {
    pub fn prepare(args: &ExposureParams, settings: &Settings) -> Result<Request, UsageError> {
        args.validate()?;
        let given = args.target.trim();
        let target = TargetSpec::parse(given)?;
        if matches!(target, TargetSpec::Outpoint(..)) {
            return Err(UsageError::ExposureOutpoint(given.into()));
        }
        Ok(Request {
            target,
            direction: args.direction,
            hops: args.hops,
            max_txs: args.max_txs.unwrap_or(settings.trace_max_txs),
        })
    }

    pub fn run(&self, chain: &Chain) -> Result<Report> {
        let target = self.target.resolve(chain)?;
        let mut notes = target.notes();
        let source = match &target {
            Target::Tx { num, .. } => Source::Tx(*num),
            Target::Script { num: Some(num), .. } => {
                notes.extend(chain.addresses_note()?);
                Source::Script(*num)
            }
            Target::Script { num: None, address } => {
                return Err(QueryError::UnseenAddress { address: address.clone(), tip: chain.tip_text() })
            }
            Target::Outpoint { .. } => return Err(UsageError::ExposureOutpoint(target.label()).into()),
        };
        let limits = ExposureLimits {
            direction: self.direction.traversal(),
            hops: self.hops,
            max_txs: usize::try_from(self.max_txs).unwrap_or(usize::MAX),
        };
        let started = std::time::Instant::now();
        let exposure = match chain.tags() {
            Some(tags) => {
                let clusters = chain.clusters()?;
                match &clusters {
                    Some(stage) => notes.extend(stage.note.clone()),
                    None => notes.push(
                        "the database has no clusters: only each address's own tags count, not its cluster's".into(),
                    ),
                }
                let mut attribution = TagAttribution::new(chain, tags, clusters.is_some());
                engine::exposure(chain.store(), source, &limits, &mut attribution)?
            }
            None => {
                notes.push("no tags are loaded: nothing can be attributed (see 'query tags --help')".into());
                engine::exposure(chain.store(), source, &limits, &mut Untagged)?
            }
        };
        debug!(
            roots = exposure.roots,
            txs = exposure.txs,
            truncated = exposure.truncated,
            engine_ms = started.elapsed().as_secs_f64() * 1e3,
            "exposure"
        );
        notes.extend(self.notes(&target, &exposure));
        let attributions = attribution_views(chain, &exposure.attributions)?;
        Ok(Report { body: Body::Exposure(self.view(&target, exposure, attributions)), notes })
    }

    /// What the reader should know about how far the answer goes.
    fn notes(&self, target: &Target, e: &Exposure) -> Vec<String> {
        let mut notes = Vec::new();
        if e.total == 0 {
            let why = match (target, self.direction) {
                (Target::Script { .. }, ExposureDirection::Out) => "nothing has been spent from it",
                (Target::Script { .. }, ExposureDirection::In) => "nothing but its own change has paid it",
                (_, ExposureDirection::Out) => "the tx has no output value",
                (_, ExposureDirection::In) => "the tx has no inputs (a coinbase)",
            };
            notes.push(format!("{} has nothing to measure: {why}", target.label()));
        }
        if e.truncated {
            notes.push(format!(
                "stopped at --max-txs {}: {} sat were not followed further and are unattributed (raise --max-txs or lower --hops)",
                self.max_txs, e.unattributed.max_txs
            ));
        }
        if e.unattributed.hop_limit > 0 {
            notes.push(format!(
                "{} sat reached untagged addresses at hop {} and went on: raise --hops to follow them",
                e.unattributed.hop_limit, self.hops
            ));
        }
        notes
    }

    fn view(&self, target: &Target, e: Exposure, attributions: Vec<AttributionView>) -> ExposureView {
        let u = e.unattributed;
        ExposureView {
            target: target.label(),
            direction: self.direction.name(),
            hops: self.hops,
            max_txs: self.max_txs,
            total_sat: e.total,
            direct: categories(e.direct),
            indirect: categories(e.indirect),
            attributions,
            unattributed_sat: u.total(),
            fees_sat: e.fees,
            unattributed_by_reason: UnattributedView {
                unspent_sat: u.unspent,
                hop_limit_sat: u.hop_limit,
                max_txs_sat: u.max_txs,
                coinbase_sat: u.coinbase,
            },
            txs_followed: e.txs as u64,
            truncated: e.truncated,
        }
    }
}

fn categories(list: Vec<CategoryValue>) -> Vec<CategoryExposure> {
    list.into_iter()
        .map(|c| CategoryExposure {
            category: c.category,
            value_sat: c.value,
            entities: c.entities.into_iter().map(|e| EntityExposure { label: e.label, value_sat: e.value }).collect(),
        })
        .collect()
}

/// The tagged outputs value was attributed at, with their txids and addresses, in the engine's
/// order (largest first).
fn attribution_views(chain: &Chain, list: &[Attributed]) -> Result<Vec<AttributionView>> {
    list.iter()
        .map(|a| {
            let txid = hex_hash(&chain.tx_row(a.num)?.txid);
            let outputs = chain.store().output_entries(a.num)?.unwrap_or_default();
            let address = match outputs.0.get(a.vout as usize).map(|o| &o.script) {
                Some(OutScript::Num(num)) => chain.address_of(&chain.script_bytes(*num)?),
                _ => None,
            };
            Ok(AttributionView {
                txid,
                vout: a.vout,
                address,
                label: a.label.clone(),
                category: a.category.clone(),
                value_sat: a.value,
                hop: a.hop,
            })
        })
        .collect()
}

/// No tag store: nothing is anyone's.
struct Untagged;

impl Attribution for Untagged {
    type Error = QueryError;

    fn entity(&mut self, _script: ScriptNum) -> Result<Option<Entity>> {
        Ok(None)
    }
}

/// Entities from the tag store: a script's own tags, else (with clusters) those of the other
/// scripts of its cluster.
pub(super) struct TagAttribution<'c> {
    chain: &'c Chain,
    tags: &'c TagStore,
    clusters: bool,
    /// The entity of each cluster (of two or more scripts) looked at, by root.
    by_root: HashMap<ScriptNum, Option<Entity>>,
}

impl<'c> TagAttribution<'c> {
    pub(super) fn new(chain: &'c Chain, tags: &'c TagStore, clusters: bool) -> Self {
        TagAttribution { chain, tags, clusters, by_root: HashMap::new() }
    }

    /// The best of a script's own tags (the store lists them best first).
    fn own(&self, script: ScriptNum) -> Result<Option<Tag>> {
        own_tag(self.chain, self.tags, script)
    }
}

/// The best of a script's own tags (the store lists them best first).
fn own_tag(chain: &Chain, tags: &TagStore, script: ScriptNum) -> Result<Option<Tag>> {
    let bytes = chain.script_bytes(script)?;
    Ok(tags.of_script(&bytes)?.into_iter().next())
}

/// The member of the cluster rooted at `root` whose tag names it, with that tag: the highest
/// confidence level, then tags naming the whole cluster, then the earliest member's.
pub(crate) fn best_member(chain: &Chain, tags: &TagStore, root: ScriptNum) -> Result<Option<(ScriptNum, Tag)>> {
    let mut best: Option<(ScriptNum, Tag)> = None;
    for member in read::members(chain.store(), root)? {
        let Some(tag) = own_tag(chain, tags, member)? else { continue };
        let rank = |t: &Tag| (t.confidence_level, t.is_cluster_definer);
        if best.as_ref().is_none_or(|(_, b)| rank(&tag) > rank(b)) {
            best = Some((member, tag));
        }
    }
    Ok(best)
}

impl Attribution for TagAttribution<'_> {
    type Error = QueryError;

    fn entity(&mut self, script: ScriptNum) -> Result<Option<Entity>> {
        if let Some(tag) = self.own(script)? {
            return Ok(Some(entity(tag)));
        }
        if !self.clusters {
            return Ok(None);
        }
        let cluster = read::cluster_of(self.chain.store(), script)?;
        if cluster.size < 2 {
            return Ok(None);
        }
        if let Some(known) = self.by_root.get(&cluster.root) {
            return Ok(known.clone());
        }
        let found = best_member(self.chain, self.tags, cluster.root)?.map(|(_, tag)| entity(tag));
        self.by_root.insert(cluster.root, found.clone());
        Ok(found)
    }
}

/// The entity a tag names; its category is the tag's, else its abuse, else `uncategorized`.
fn entity(tag: Tag) -> Entity {
    let category = [tag.category, tag.abuse]
        .into_iter()
        .flatten()
        .map(|c| c.trim().to_string())
        .find(|c| !c.is_empty())
        .unwrap_or_else(|| UNCATEGORIZED.into());
    Entity { label: tag.label, category }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(label: &str, category: Option<&str>, abuse: Option<&str>) -> Tag {
        Tag {
            label: label.into(),
            category: category.map(Into::into),
            source: "https://example.org".into(),
            confidence: "forensic".into(),
            confidence_level: 50,
            pack: "test".into(),
            abuse: abuse.map(Into::into),
            actor: None,
            is_cluster_definer: false,
        }
    }

    #[test]
    fn an_entity_takes_the_category_else_the_abuse_else_uncategorized() {
        assert_eq!(entity(tag("A", Some("exchange"), Some("scam"))).category, "exchange");
        assert_eq!(entity(tag("B", None, Some("ransomware"))).category, "ransomware");
        assert_eq!(entity(tag("C", Some(" "), None)).category, UNCATEGORIZED);
        assert_eq!(entity(tag("D", None, None)), Entity { label: "D".into(), category: UNCATEGORIZED.into() });
    }
}
