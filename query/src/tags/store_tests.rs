//! Tests of the tag store: its exact key and value bytes, imports, duplicates, removal, paging,
//! the checks on opening, and the four real TagPacks.

use std::path::Path;
use std::str::FromStr;

use bitcoin::hashes::Hash;
use bitcoin::Address;
use indexer::network::Network;

use super::pack::{parse_csv, parse_yaml, read};
use super::store::{decode_tag, encode_meta, pack_prefix, pack_tag_key, tag_hash, tag_key, Cursor};
use super::{Subject, Tag, TagStore, TagStoreError};

const BITSTAMP: &str = "1JoktQJhCzuCQkt3GnQ8Xddcq4mUgNyXEa";
const SEGWIT: &str = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
const TXID: &str = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";

fn script(address: &str) -> Vec<u8> {
    Address::from_str(address).unwrap().assume_checked().script_pubkey().into_bytes()
}

fn tag(label: &str, source: &str) -> Tag {
    Tag {
        label: label.into(),
        category: Some("exchange".into()),
        source: source.into(),
        confidence: "forensic".into(),
        confidence_level: 50,
        pack: "P".into(),
        abuse: None,
        actor: Some("a".into()),
        is_cluster_definer: true,
    }
}

fn pack_text(title: &str, label: &str) -> String {
    format!(
        "title: {title}\ncreator: C\ncurrency: BTC\nsource: https://s\ncategory: exchange\ntags:\n\
         - address: {BITSTAMP}\n  label: {label}\n- address: {SEGWIT}\n  label: {label}\n\
         - tx_hash: {TXID}\n  label: {label}\n- address: {BITSTAMP}\n  label: {label}\n"
    )
}

#[test]
fn keys_and_values_have_pinned_bytes_and_round_trip() {
    let hash = tag_hash("L", "S");
    let data = [0, 0, 0, 1, b'L', b'S'];
    assert_eq!(hash[..], bitcoin::hashes::sha256::Hash::hash(&data).to_byte_array()[..8]);
    assert_ne!(tag_hash("LS", ""), hash, "the label's length is hashed");
    let s = script(SEGWIT);
    let (table, key) = tag_key(&Subject::Script(s.clone()), &tag("L", "S")).unwrap();
    assert_eq!(table, "script_tags");
    assert_eq!(key, [&[22u8][..], &s, &hash].concat());
    let (table, key) = tag_key(&Subject::Tx([7; 32]), &tag("L", "S")).unwrap();
    assert_eq!((table, key), ("tx_tags", [&[7u8; 32][..], &hash].concat()));
    assert_eq!(tag_key(&Subject::Script(vec![0; 256]), &tag("L", "S")), None);
    let prefix = pack_prefix("ab");
    assert_eq!(prefix, [0, 2, b'a', b'b']);
    assert_eq!(pack_tag_key(&prefix, "tx_tags", &[9, 9]), [0, 2, b'a', b'b', 1, 9, 9]);
    assert_eq!(encode_meta(1, Network::Main), [0, 0, 0, 1, b'm', b'a', b'i', b'n']);
    let t = tag("L", "S");
    let bytes = bincode::serialize(&t).unwrap();
    assert_eq!(bytes[..9], [1, 0, 0, 0, 0, 0, 0, 0, b'L'], "bincode 1: u64 length, then the bytes");
    assert_eq!(decode_tag(&bytes).unwrap(), t);
    let cursor = Cursor::parse("s16ab").unwrap();
    assert_eq!((cursor.to_string(), Cursor::parse("x00"), Cursor::parse("t")), ("s16ab".into(), None, None));
}

#[test]
fn an_import_is_found_by_script_and_txid_and_a_second_one_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = TagStore::open_write(dir.path(), Network::Main).unwrap();
    let pack = parse_yaml("p.yaml", &pack_text("P", "Bitstamp"), Network::Main).unwrap();
    let counts = store.import(&pack).unwrap();
    assert_eq!((counts.imported, counts.skipped, counts.duplicates), (3, 0, 1), "the last tag repeats the first");
    let tags = store.of_script(&script(BITSTAMP)).unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(
        (tags[0].label.as_str(), tags[0].pack.as_str(), tags[0].category.as_deref()),
        ("Bitstamp", "P", Some("exchange"))
    );
    let txid = bitcoin::Txid::from_str(TXID).unwrap().to_byte_array();
    assert_eq!(store.of_tx(&txid).unwrap()[0].label, "Bitstamp");
    assert!(store.of_tx(&[0; 32]).unwrap().is_empty());
    assert!(store.of_script(&script("3A1KUd5H4hBEHk4bZB4C3hGgvuXuVX7p7t")).unwrap().is_empty());
    let again = store.import(&pack).unwrap();
    assert_eq!((again.imported, again.duplicates), (0, 4));
    assert_eq!(store.pack("P").unwrap().unwrap().tags, 3);
    let other = parse_yaml("q.yaml", &pack_text("Q", "Other"), Network::Main).unwrap();
    assert_eq!(store.import(&other).unwrap().imported, 3, "another label is another tag");
    assert_eq!(store.of_script(&script(BITSTAMP)).unwrap().len(), 2);
}

#[test]
fn removing_a_pack_deletes_exactly_its_tags() {
    let dir = tempfile::tempdir().unwrap();
    let store = TagStore::open_write(dir.path(), Network::Main).unwrap();
    store.import(&parse_yaml("p.yaml", &pack_text("P", "One"), Network::Main).unwrap()).unwrap();
    store.import(&parse_yaml("q.yaml", &pack_text("Q", "Two"), Network::Main).unwrap()).unwrap();
    assert_eq!(store.remove_pack("P").unwrap(), 3);
    let left = store.of_script(&script(BITSTAMP)).unwrap();
    assert_eq!(left.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["Two"]);
    assert_eq!(store.packs().unwrap().iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["Q"]);
    let err = store.remove_pack("P").unwrap_err().to_string();
    assert!(err.contains("no pack titled 'P'") && err.contains("(packs: 'Q')"), "{err}");
    assert_eq!(store.remove_pack("Q").unwrap(), 3);
    assert!(store.scripts(|_| true).unwrap().is_empty());
}

#[test]
fn scripts_and_pages_filter_by_tag() {
    let dir = tempfile::tempdir().unwrap();
    let store = TagStore::open_write(dir.path(), Network::Main).unwrap();
    let csv = format!("address,label,category,source\n{BITSTAMP},A,exchange,s\n{BITSTAMP},B,mixing_service,s\n{SEGWIT},C,exchange,s\n");
    store.import(&parse_csv("l.csv", csv.as_bytes(), Network::Main).unwrap()).unwrap();
    store.import(&parse_yaml("p.yaml", &pack_text("P", "D"), Network::Main).unwrap()).unwrap();
    let mut all = store.scripts(|_| true).unwrap();
    all.sort();
    let mut expected = vec![script(BITSTAMP), script(SEGWIT)];
    expected.sort();
    assert_eq!(all, expected, "each script once");
    let mixers = store.scripts(|t| t.category.as_deref() == Some("mixing_service")).unwrap();
    assert_eq!(mixers, [script(BITSTAMP)]);
    let (page, next) = store.list(None, 2, |_| true).unwrap();
    assert_eq!(page.len(), 2);
    let (rest, end) = store.list(next.as_ref(), 10, |_| true).unwrap();
    assert_eq!((rest.len(), end), (4, None));
    assert!(matches!(rest.last().unwrap().0, Subject::Tx(_)), "tx tags come last");
    let (exchanges, _) = store.list(None, 10, |t| t.category.as_deref() == Some("exchange")).unwrap();
    assert_eq!(exchanges.len(), 5);
    let (one, next) = store.list(None, 5, |t| t.pack == "l.csv").unwrap();
    assert_eq!((one.len(), next), (3, None));
}

#[test]
fn opening_checks_the_directory_network_and_writer_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tags");
    assert!(TagStore::open_read(&path, Network::Main).unwrap().is_none(), "no store yet: no tags");
    let writer = TagStore::open_write(&path, Network::Main).unwrap();
    writer.import(&parse_yaml("p.yaml", &pack_text("P", "L"), Network::Main).unwrap()).unwrap();
    let locked = TagStore::open_write(&path, Network::Main).err().unwrap();
    assert!(matches!(locked, TagStoreError::Locked(_)), "{locked}");
    let reader = TagStore::open_read(&path, Network::Main).unwrap().unwrap();
    assert_eq!(reader.of_script(&script(BITSTAMP)).unwrap().len(), 1, "readers see what a writer wrote");
    assert!(matches!(reader.remove_pack("P"), Err(TagStoreError::ReadOnly(_))));
    drop(writer);
    let err = TagStore::open_read(&path, Network::Regtest).err().unwrap().to_string();
    assert!(err.contains("holds tags of 'main', but the network asked for is 'regtest'"), "{err}");
    assert!(TagStore::open_write(&path, Network::Signet).is_err());
    let stranger = tempfile::tempdir().unwrap();
    std::fs::write(stranger.path().join("notes.txt"), "x").unwrap();
    let err = TagStore::open_write(stranger.path(), Network::Main).err().unwrap();
    assert!(matches!(err, TagStoreError::Foreign(_)), "{err}");
}

/// `address:` lines of a pack: one per tag in these files.
fn address_lines(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().filter(|l| l.trim_start().trim_start_matches("- ").starts_with("address:")).count() as u64
}

#[test]
fn the_four_real_tagpacks_import_whole() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/tagpacks");
    if !dir.is_dir() {
        println!("note: {} is absent: real TagPacks not tested", dir.display());
        return;
    }
    let store_dir = tempfile::tempdir().unwrap();
    let store = TagStore::open_write(store_dir.path(), Network::Main).unwrap();
    let mut total = 0;
    for (file, title) in [
        ("hacks.yaml", "Known Cryptoservice hacks"),
        ("mixing_fc2021.yaml", "Mixing Services"),
        ("ransomware.yaml", "Ransomware Tagpack"),
        ("sextortion_talos.yaml", "Talos Sextortion Tagpack"),
    ] {
        let path = dir.join(file);
        let pack = read(&path, Network::Main).unwrap();
        assert_eq!(pack.title, title);
        let counts = store.import(&pack).unwrap();
        let expected = address_lines(&path);
        assert_eq!((counts.imported, counts.skipped, counts.duplicates), (expected, 0, 0), "{file}");
        assert_eq!(store.pack(title).unwrap().unwrap().tags, expected);
        total += expected;
    }
    assert_eq!(total, 608 + 66 + 7_178 + 58_600);
    let bitstamp = store.of_script(&script(BITSTAMP)).unwrap();
    assert_eq!(bitstamp.len(), 1);
    let b = &bitstamp[0];
    assert_eq!(
        (b.label.as_str(), b.category.as_deref(), b.actor.as_deref()),
        ("Bitstamp", Some("exchange"), Some("bitstamp"))
    );
    assert_eq!((b.confidence.as_str(), b.confidence_level), ("web_crawl", 20));
    let ransom = &store.of_script(&script("1Lud76Q98VRHCUiyK7XUs7AgFofrqXeP78")).unwrap()[0];
    assert_eq!(
        (ransom.label.as_str(), ransom.abuse.as_deref(), ransom.is_cluster_definer),
        ("7ev3n", Some("ransomware"), true)
    );
    assert_eq!((ransom.confidence.as_str(), ransom.confidence_level), ("forensic", 50));
    let mixers = store.scripts(|t| t.category.as_deref() == Some("mixing_service")).unwrap();
    assert_eq!(mixers.len(), 66);
    let again = store.import(&read(&dir.join("mixing_fc2021.yaml"), Network::Main).unwrap()).unwrap();
    assert_eq!((again.imported, again.duplicates), (0, 66));
    assert_eq!(store.remove_pack("Ransomware Tagpack").unwrap(), 7_178);
    assert!(store.of_script(&script("1Lud76Q98VRHCUiyK7XUs7AgFofrqXeP78")).unwrap().is_empty());
}
