//! Tests of the tag commands as `query::run` drives them: whole-command refusal of bad packs,
//! where the network comes from, and tags read through the index's [`Chain`].

use std::path::Path;

use clap::Parser;

use super::Job;
use crate::chain::Chain;
use crate::cli::Cli;
use crate::config::Settings;
use crate::error::{QueryError, UsageError};
use crate::fixture::{address, script, TestChain};
use crate::model::{Body, Report};
use crate::tags::TagStore;

const BITSTAMP: &str = "1JoktQJhCzuCQkt3GnQ8Xddcq4mUgNyXEa";

fn prepare(args: &[&str]) -> Result<(Settings, Job), UsageError> {
    let cli = Cli::try_parse_from(std::iter::once("query").chain(args.iter().copied())).unwrap();
    let settings = Settings::resolve(&cli)?;
    let job = Job::prepare(&cli.command, &settings)?;
    Ok((settings, job))
}

fn run(args: &[&str]) -> Result<Report, QueryError> {
    let (settings, job) = prepare(args)?;
    let Job::Tags(req) = job else { panic!("a tags command") };
    req.run(&settings)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn pack(title: &str, address: &str) -> String {
    format!("title: {title}\ncreator: C\ncurrency: BTC\nsource: s\nlabel: L\ntags:\n- address: {address}\n")
}

#[test]
fn one_bad_pack_refuses_the_whole_import_and_leaves_the_store_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let tags = dir.path().join("tags");
    let tags = tags.to_str().unwrap();
    let good = write(dir.path(), "good.yaml", &pack("Good", BITSTAMP));
    let more = write(dir.path(), "more.yaml", &pack("More", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"));
    let bad = write(dir.path(), "bad.yaml", "title: Bad\ncreator: C\ncurrency: BTC\nsource: s\ntags:\n- address: x1\n");
    let base = ["--network", "main", "--tags", tags, "tags", "import"];
    let err = run(&[&base[..], &[good.as_str(), bad.as_str()]].concat()).unwrap_err();
    assert!(matches!(err, QueryError::Usage(UsageError::Pack(_))), "{err}");
    assert!(err.to_string().contains("bad.yaml: line 6: tag 1: field 'label' is missing"), "{err}");
    assert!(TagStore::open_read(Path::new(tags), indexer::network::Network::Main).unwrap().is_none());
    let Body::TagImport(done) = run(&[&base[..], &[good.as_str()]].concat()).unwrap().body else { panic!("import") };
    assert_eq!((done.total.imported, done.packs[0].title.as_str()), (1, "Good"));
    run(&[&base[..], &[more.as_str(), bad.as_str()]].concat()).unwrap_err();
    let store = TagStore::open_read(Path::new(tags), indexer::network::Network::Main).unwrap().unwrap();
    assert_eq!(store.packs().unwrap().len(), 1, "More was not imported");
    drop(store);
    let Body::TagRemove(removed) =
        run(&["--network", "main", "--tags", tags, "tags", "remove", "--pack", "Good"]).unwrap().body
    else {
        panic!("remove")
    };
    assert_eq!(removed.removed, 1);
    let err = run(&["--network", "main", "--tags", tags, "tags", "remove", "--pack", "Good"]).unwrap_err();
    assert!(matches!(err, QueryError::Tags(_)) && err.to_string().contains("no pack titled 'Good'"), "{err}");
}

#[test]
fn the_network_comes_from_the_flag_or_the_index_else_it_is_asked_for() {
    let err = prepare(&["tags", "import", "a.yaml"]).err().unwrap();
    assert!(matches!(err, UsageError::NoTagsNetwork), "{err}");
    assert!(err.to_string().contains("pass --network"), "{err}");
    let mut t = TestChain::new();
    t.coin(script(1), 1000);
    t.mine();
    let (dir, db) = t.finish();
    let tags = dir.as_ref().unwrap().path().join("tags");
    let csv = write(
        dir.as_ref().unwrap().path(),
        "r.csv",
        &format!("address,label,source\n{},Me,s\n{BITSTAMP},Main,s\n", address(1)),
    );
    let args = ["--db", db.to_str().unwrap(), "--tags", tags.to_str().unwrap(), "tags", "import", csv.as_str()];
    let Body::TagImport(done) = run(&args).unwrap().body else { panic!("import") };
    assert_eq!((done.network.as_str(), done.total.imported, done.total.skipped), ("regtest", 1, 1));
    let (resolved, _) = prepare(&args).unwrap();
    assert_eq!(resolved.tags_dir(indexer::network::Network::Regtest).unwrap(), tags);
    let inside = prepare(&["--db", db.to_str().unwrap(), "--tags", db.join("t").to_str().unwrap(), "tags", "list"]);
    let err = inside.unwrap().0.tags_dir(indexer::network::Network::Regtest).unwrap_err();
    assert!(matches!(err, UsageError::TagsInIndex { .. }), "{err}");
}

#[test]
fn show_and_list_read_through_the_index_chain_and_without_a_store_give_no_tags() {
    let mut t = TestChain::new();
    t.coin(script(1), 1000);
    t.mine();
    let (dir, db) = t.finish();
    let base = dir.as_ref().unwrap().path();
    let tags = base.join("tags");
    let csv = write(
        base,
        "r.csv",
        &format!("address,label,category,source,confidence\n{},Me,exchange,s,ownership\n", address(1)),
    );
    let show = ["--db", db.to_str().unwrap(), "--tags", tags.to_str().unwrap(), "tags", "show", &address(1)];
    let report = run(&show).unwrap();
    let Body::AddressTags(view) = &report.body else { panic!("show") };
    assert!(view.tags.is_empty());
    assert!(report.notes[0].contains("no tag store"), "{:?}", report.notes);
    run(&["--db", db.to_str().unwrap(), "--tags", tags.to_str().unwrap(), "tags", "import", &csv]).unwrap();
    let network = indexer::network::Network::Regtest;
    let chain = Chain::open(&db, 1 << 20, None).unwrap().with_tags(TagStore::open_read(&tags, network).unwrap());
    assert_eq!(chain.tags().unwrap().of_script(script(1).as_bytes()).unwrap()[0].label, "Me");
    let (_, job) = prepare(&show).unwrap();
    let Body::AddressTags(view) = job.run(&chain).unwrap().body else { panic!("show") };
    assert_eq!((view.tags[0].tag.label.as_str(), view.tags[0].confidence_level), ("Me", 100));
    let (_, job) = prepare(&["--db", db.to_str().unwrap(), "tags", "list", "--category", "exchange"]).unwrap();
    let Body::TagList(list) = job.run(&chain).unwrap().body else { panic!("list") };
    assert_eq!((list.tags.len(), list.tags[0].address.clone()), (1, Some(address(1))));
    let (_, job) = prepare(&["--db", db.to_str().unwrap(), "tags", "import", &csv]).unwrap();
    assert!(job.run(&chain).is_err(), "an index's chain holds the tag store read-only");
    let err =
        run(&["--db", db.to_str().unwrap(), "--tags", tags.to_str().unwrap(), "tags", "show", BITSTAMP]).unwrap_err();
    assert!(err.to_string().contains("is a mainnet address"), "{err}");
}
