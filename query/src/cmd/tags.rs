//! `query tags import|show|list|remove`: the tag store, which these commands use alone (no index
//! is opened but to learn its network when neither --network nor the config file names one).

use std::path::PathBuf;

use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Script};
use indexer::network::Network;
use indexer::storage::store::hex_hash;
use tracing::info;

use crate::chain::{address_network, network_title, Chain};
use crate::cli::{TagsArgs, TagsCommand};
use crate::config::Settings;
use crate::error::{Result, UsageError};
use crate::model::{
    AddressTagsView, Body, ImportTotals, PackImportView, Report, TagDetailView, TagImportView, TagListView,
    TagRemoveView, TaggedView,
};
use crate::tags::store::Cursor;
use crate::tags::{pack, Subject, TagStore, TagStoreError};

/// Block cache of the index when it is opened only to learn its network.
const PEEK_CACHE_BYTES: usize = 8 << 20;

/// What `query tags show` is asked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsShowParams {
    /// An address of the tag store's network.
    pub address: String,
}

#[derive(Debug)]
pub struct Request {
    action: Action,
}

#[derive(Debug)]
enum Action {
    Import(Vec<PathBuf>),
    Show(Address<NetworkUnchecked>),
    List { category: Option<String>, source: Option<String>, limit: usize, after: Option<Cursor> },
    Remove(String),
}

impl Request {
    pub fn prepare(args: &TagsArgs) -> Result<Request, UsageError> {
        let action = match &args.command {
            TagsCommand::Import(a) => Action::Import(a.files.clone()),
            TagsCommand::Show(a) => return Request::show(&TagsShowParams { address: a.address.clone() }),
            TagsCommand::List(a) => Action::List {
                category: a.category.clone(),
                source: a.source.clone(),
                limit: usize::try_from(a.limit).unwrap_or(usize::MAX),
                after: match &a.after {
                    Some(text) => Some(Cursor::parse(text).ok_or_else(|| UsageError::TagsCursor(text.clone()))?),
                    None => None,
                },
            },
            TagsCommand::Remove(a) => Action::Remove(a.pack.clone()),
        };
        Ok(Request { action })
    }

    /// `tags show`: the tags of one address.
    pub fn show(params: &TagsShowParams) -> Result<Request, UsageError> {
        Ok(Request { action: Action::Show(crate::target::parse_address(params.address.trim())?) })
    }

    /// Runs against the tag store of the settings' network.
    pub fn run(&self, settings: &Settings) -> Result<Report> {
        let network = network(settings)?;
        let dir = settings.tags_dir(network)?;
        match &self.action {
            Action::Import(files) => import(files, &dir, network),
            Action::Remove(title) => {
                if TagStore::open_read(&dir, network)?.is_none() {
                    let unknown = TagStoreError::UnknownPack { title: title.clone(), path: dir, known: "none".into() };
                    return Err(unknown.into());
                }
                let removed = TagStore::open_write(&dir, network)?.remove_pack(title)?;
                info!(pack = title.as_str(), removed, "removed");
                Ok(Report { body: Body::TagRemove(TagRemoveView { pack: title.clone(), removed }), notes: Vec::new() })
            }
            Action::Show(_) | Action::List { .. } => {
                let store = TagStore::open_read(&dir, network)?;
                let mut report = self.answer(network, store.as_ref())?;
                if store.is_none() {
                    report.notes.push(format!(
                        "no tag store at {} yet: import packs with 'query tags import FILE'",
                        dir.display()
                    ));
                }
                Ok(report)
            }
        }
    }

    /// Answers `show` and `list` from an open store (none: no tags); the index's [`Chain`]
    /// carries one for the other commands.
    pub fn answer(&self, network: Network, store: Option<&TagStore>) -> Result<Report> {
        let body = match &self.action {
            Action::Show(address) => {
                let script = address
                    .clone()
                    .require_network(network.bitcoin())
                    .map_err(|_| UsageError::WrongNetwork {
                        address: address.assume_checked_ref().to_string(),
                        found: address_network(address),
                        expected: network_title(network),
                    })?
                    .script_pubkey();
                let tags = match store {
                    Some(store) => store.of_script(script.as_bytes())?,
                    None => Vec::new(),
                };
                Body::AddressTags(AddressTagsView {
                    address: address.assume_checked_ref().to_string(),
                    tags: tags.iter().map(TagDetailView::from).collect(),
                })
            }
            Action::List { category, source, limit, after } => {
                let keep = |tag: &crate::tags::Tag| {
                    category.as_ref().is_none_or(|c| tag.category.as_ref() == Some(c))
                        && source.as_ref().is_none_or(|s| tag.source == *s)
                };
                let (listed, next) = match store {
                    Some(store) => store.list(after.as_ref(), *limit, keep)?,
                    None => (Vec::new(), None),
                };
                let tags =
                    listed.iter().map(|(subject, tag)| tagged(network, subject, TagDetailView::from(tag))).collect();
                Body::TagList(TagListView { tags, next_cursor: next.map(|c| c.to_string()) })
            }
            Action::Import(_) | Action::Remove(_) => {
                let path = store.map(|s| s.path().to_owned()).unwrap_or_default();
                return Err(TagStoreError::ReadOnly(path).into());
            }
        };
        Ok(Report { body, notes: Vec::new() })
    }
}

/// The network of the tag store: --network or the config file's, else the index's.
fn network(settings: &Settings) -> Result<Network> {
    if let Some(network) = settings.network {
        return Ok(network);
    }
    if settings.db.exists() {
        return Ok(Chain::open(&settings.db, PEEK_CACHE_BYTES, None)?.network());
    }
    Err(UsageError::NoTagsNetwork.into())
}

/// Reads every file first, so that one bad pack refuses the whole command before anything is
/// written; then imports each pack in one batch.
fn import(files: &[PathBuf], dir: &std::path::Path, network: Network) -> Result<Report> {
    let packs =
        files.iter().map(|f| pack::read(f, network)).collect::<Result<Vec<_>, _>>().map_err(UsageError::from)?;
    let store = TagStore::open_write(dir, network)?;
    let mut views = Vec::new();
    let mut total = ImportTotals { imported: 0, skipped: 0, duplicates: 0 };
    for pack in &packs {
        let counts = store.import(pack)?;
        info!(file = pack.file.as_str(), imported = counts.imported, duplicates = counts.duplicates, "imported");
        total.imported += counts.imported;
        total.skipped += counts.skipped;
        total.duplicates += counts.duplicates;
        views.push(PackImportView {
            file: pack.file.clone(),
            title: pack.title.clone(),
            imported: counts.imported,
            skipped: counts.skipped,
            duplicates: counts.duplicates,
        });
    }
    let view = TagImportView {
        network: network.core_name().to_string(),
        store: dir.display().to_string(),
        packs: views,
        total,
    };
    Ok(Report { body: Body::TagImport(view), notes: Vec::new() })
}

/// A listed tag with its address or txid.
fn tagged(network: Network, subject: &Subject, tag: TagDetailView) -> TaggedView {
    match subject {
        Subject::Script(script) => {
            let address =
                Address::from_script(Script::from_bytes(script), network.bitcoin()).ok().map(|a| a.to_string());
            TaggedView { address, script_hex: Some(hex::encode(script)), txid: None, tag }
        }
        Subject::Tx(txid) => TaggedView { address: None, script_hex: None, txid: Some(hex_hash(txid)), tag },
    }
}
