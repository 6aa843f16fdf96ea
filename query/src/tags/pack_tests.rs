//! Tests of reading packs: inheritance, defaults, skipped tags, and every way a pack is refused.

use std::str::FromStr;

use bitcoin::hashes::Hash;
use indexer::network::Network;

use super::pack::{parse_csv, parse_yaml, read, PackError};
use super::{Pack, Subject};

const BITSTAMP: &str = "1JoktQJhCzuCQkt3GnQ8Xddcq4mUgNyXEa";
const P2SH: &str = "3A1KUd5H4hBEHk4bZB4C3hGgvuXuVX7p7t";
const SEGWIT: &str = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
const TESTNET: &str = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const TXID: &str = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";

fn yaml(text: &str) -> Result<Pack, PackError> {
    parse_yaml("p.yaml", text, Network::Main)
}

/// The error's one-line message.
fn refused(text: &str) -> String {
    yaml(text).unwrap_err().to_string()
}

const HEADER: &str = "title: T\ncreator: C\ncurrency: BTC\nsource: https://s\n";

#[test]
fn header_fields_are_inherited_and_tags_override_them() {
    let pack = yaml(&format!(
        "{HEADER}label: L\ncategory: exchange\nabuse: ransomware\nconfidence: forensic\nis_cluster_definer: true\n\
         tags:\n- address: {BITSTAMP}\n- address: {SEGWIT}\n  label: Own\n  category: mixing_service\n  \
         confidence: web_crawl\n  source: https://own\n  actor: a1\n  is_cluster_definer: false\n"
    ))
    .unwrap();
    assert_eq!((pack.title.as_str(), pack.creator.as_deref(), pack.skipped), ("T", Some("C"), 0));
    let [a, b] = &pack.entries[..] else { panic!("two tags") };
    assert_eq!(
        (a.tag.label.as_str(), a.tag.category.as_deref(), a.tag.abuse.as_deref()),
        ("L", Some("exchange"), Some("ransomware"))
    );
    assert_eq!((a.tag.confidence.as_str(), a.tag.confidence_level, a.tag.is_cluster_definer), ("forensic", 50, true));
    assert_eq!((a.tag.source.as_str(), a.tag.pack.as_str(), a.line), ("https://s", "T", 11));
    assert_eq!(
        (b.tag.label.as_str(), b.tag.category.as_deref(), b.tag.actor.as_deref()),
        ("Own", Some("mixing_service"), Some("a1"))
    );
    assert_eq!((b.tag.confidence.as_str(), b.tag.confidence_level, b.tag.is_cluster_definer), ("web_crawl", 20, false));
    assert_eq!((b.tag.source.as_str(), b.tag.abuse.as_deref(), b.line), ("https://own", Some("ransomware"), 12));
    let script = bitcoin::Address::from_str(SEGWIT).unwrap().assume_checked().script_pubkey();
    assert_eq!(b.subject, Subject::Script(script.into_bytes()));
}

#[test]
fn confidence_defaults_to_unknown_and_network_to_currency() {
    let pack = yaml(&format!(
        "title: T\ncreator: C\nsource: s\nlabel: L\ntags:\n- address: {BITSTAMP}\n  currency: btc\n\
         - address: 0xabc\n  currency: ETH\n- address: {P2SH}\n  currency: BTC\n  network: ETH\n\
         - address: {P2SH}\n  currency: BTC\n  network: Btc\n"
    ))
    .unwrap();
    assert_eq!(pack.skipped, 2, "ETH, and a BTC tag of the ETH network");
    assert_eq!(pack.entries.len(), 2);
    assert_eq!((pack.entries[0].tag.confidence.as_str(), pack.entries[0].tag.confidence_level), ("unknown", 5));
    assert_eq!((pack.entries[0].tag.category.clone(), pack.entries[0].tag.abuse.clone()), (None, None));
}

#[test]
fn tx_hash_tags_are_kept_by_txid_in_internal_order() {
    let pack = yaml(&format!("{HEADER}label: L\ntags:\n- tx_hash: {TXID}\n")).unwrap();
    let txid = bitcoin::Txid::from_str(TXID).unwrap().to_byte_array();
    assert_eq!(pack.entries[0].subject, Subject::Tx(txid));
    assert_eq!(txid[0], 0x3b, "internal order is the display order reversed");
    let err = refused(&format!("{HEADER}label: L\ntags:\n- tx_hash: {}\n", &TXID[..63]));
    assert!(err.contains("p.yaml: line 7: tag 1: field 'tx_hash': malformed txid"), "{err}");
}

#[test]
fn addresses_of_another_network_are_skipped_and_malformed_ones_refused() {
    let pack = yaml(&format!("{HEADER}label: L\ntags:\n- address: {TESTNET}\n- address: {BITSTAMP}\n")).unwrap();
    assert_eq!((pack.skipped, pack.entries.len()), (1, 1));
    let pack =
        parse_yaml("p.yaml", &format!("{HEADER}label: L\ntags:\n- address: {TESTNET}\n"), Network::Signet).unwrap();
    assert_eq!((pack.skipped, pack.entries.len()), (0, 1));
    let err = refused(&format!(
        "{HEADER}label: L\ntags:\n- address: {BITSTAMP}\n- address: 1JoktQJhCzuCQkt3GnQ8Xddcq4mUgNyXEb\n"
    ));
    assert!(err.starts_with("p.yaml: line 8: tag 2: field 'address': malformed address '1JoktQ"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn a_missing_label_is_refused_with_file_line_tag_and_field() {
    let err = refused(&format!("{HEADER}tags:\n- address: {BITSTAMP}\n  label: A\n- address: {P2SH}\n  category: x\n"));
    assert!(err.starts_with("p.yaml: line 8: tag 2: field 'label' is missing"), "{err}");
    let err = refused(&format!("title: T\ncreator: C\nlabel: L\nsource: s\ntags:\n- address: {BITSTAMP}\n"));
    assert!(err.contains("line 6: tag 1: field 'currency' is missing"), "{err}");
    let err =
        refused(&format!("title: T\ncreator: C\nlabel: L\ncurrency: BTC\nsource: ''\ntags:\n- address: {BITSTAMP}\n"));
    assert!(err.contains("line 7: tag 1: field 'source' is missing"), "{err}");
}

#[test]
fn an_unknown_confidence_level_is_refused_naming_the_valid_ones() {
    let err = refused(&format!("{HEADER}label: L\ntags:\n- address: {BITSTAMP}\n  confidence: forensics\n"));
    assert!(
        err.starts_with("p.yaml: line 8: tag 1: field 'confidence': unknown confidence level 'forensics'"),
        "{err}"
    );
    assert!(err.contains("override, ownership,") && err.contains("did you mean 'forensic'?"), "{err}");
    let err = refused(&format!("{HEADER}label: L\nconfidence: 0.5\ntags:\n- address: {BITSTAMP}\n"));
    assert!(err.starts_with("p.yaml: line 6: header: field 'confidence': unknown confidence level '0.5'"), "{err}");
}

#[test]
fn address_and_tx_hash_together_or_neither_are_refused() {
    let err = refused(&format!("{HEADER}label: L\ntags:\n- address: {BITSTAMP}\n  tx_hash: {TXID}\n"));
    assert!(err.starts_with("p.yaml: line 7: tag 1: fields 'address' and 'tx_hash' are both set"), "{err}");
    let err = refused(&format!("{HEADER}label: L\ntags:\n- address: {BITSTAMP}\n- category: x\n"));
    assert!(err.starts_with("p.yaml: line 8: tag 2: field 'address' is missing"), "{err}");
}

#[test]
fn yaml_syntax_errors_give_file_and_line() {
    let err = refused(&format!("{HEADER}tags:\n- address: {BITSTAMP}\n  label: [unclosed\n- address: {P2SH}\n"));
    assert!(err.starts_with("p.yaml: line "), "{err}");
    assert!(err.contains("YAML syntax error"), "{err}");
    let err = refused("title: T\n  creator: C\n");
    assert!(err.starts_with("p.yaml: line 2: YAML syntax error"), "{err}");
    assert!(refused("").contains("line 1: header: the file holds no TagPack"));
}

#[test]
fn header_and_field_shape_errors_name_the_field() {
    let err = refused(&format!("creator: C\ncurrency: BTC\ntags:\n- address: {BITSTAMP}\n"));
    assert!(err.contains("line 1: header: field 'title' is missing"), "{err}");
    let err = refused(&format!("{HEADER}label: L\ntags:\n- address: {BITSTAMP}\n  colour: red\n"));
    assert!(err.contains("line 8: tag 1: unknown field 'colour' (tag fields: label, source,"), "{err}");
    let err = refused(&format!("{HEADER}label: L\ntags:\n- address: {BITSTAMP}\n  title: X\n"));
    assert!(err.contains("line 8: tag 1: field 'title' belongs in the header"), "{err}");
    let err = refused(&format!("{HEADER}label: L\ntags:\n- address: {BITSTAMP}\n  is_cluster_definer: yes\n"));
    assert!(err.contains("line 8: tag 1: field 'is_cluster_definer' must be true or false, found 'yes'"), "{err}");
    let err = refused(&format!("{HEADER}label: [a, b]\ntags:\n- address: {BITSTAMP}\n"));
    assert!(err.contains("line 5: header: field 'label' must be text, found a list"), "{err}");
    let err = refused(&format!("{HEADER}label: L\nlabel: M\ntags:\n- address: {BITSTAMP}\n"));
    assert!(err.contains("line 6: header: field 'label' is set twice"), "{err}");
    let err = refused(&format!("{HEADER}label: L\ntags: {BITSTAMP}\n"));
    assert!(err.contains("field 'tags' must be a list of tags"), "{err}");
}

#[test]
fn csv_rows_are_bitcoin_tags_of_the_store_network() {
    let text = format!(
        "address,label,category,source,confidence\n{BITSTAMP},Bitstamp,exchange,https://s,ownership\n\
         {TESTNET},Test,,https://t,\n{SEGWIT},\"Seg, wit\",,https://u,\n"
    );
    let pack = parse_csv("dir/labels.csv", text.as_bytes(), Network::Main).unwrap();
    assert_eq!((pack.title.as_str(), pack.skipped, pack.entries.len()), ("labels.csv", 1, 2));
    let [a, b] = &pack.entries[..] else { panic!("two tags") };
    assert_eq!(
        (a.tag.confidence.as_str(), a.tag.confidence_level, a.tag.category.as_deref()),
        ("ownership", 100, Some("exchange"))
    );
    assert_eq!(
        (b.tag.label.as_str(), b.tag.confidence.as_str(), b.tag.category.clone(), b.line),
        ("Seg, wit", "unknown", None, 4)
    );
    let pack = parse_csv("l.csv", format!("label,source,address\nL,S,{BITSTAMP}\n").as_bytes(), Network::Main).unwrap();
    assert_eq!(pack.entries[0].tag.label, "L");
}

#[test]
fn csv_errors_name_file_line_and_field() {
    let bad = |text: String| parse_csv("l.csv", text.as_bytes(), Network::Main).unwrap_err().to_string();
    let head = "address,label,category,source,confidence\n";
    let err = bad(format!("{head}{BITSTAMP},A,,s,\n{P2SH},,,s,\n"));
    assert!(err.starts_with("l.csv: line 3: row 2: field 'label' is missing"), "{err}");
    let err = bad(format!("{head}{BITSTAMP},A,,s,sure\n"));
    assert!(err.starts_with("l.csv: line 2: row 1: field 'confidence': unknown confidence level 'sure'"), "{err}");
    let err = bad(format!("{head}nonsense,A,,s,\n"));
    assert!(err.starts_with("l.csv: line 2: row 1: field 'address': malformed address 'nonsense'"), "{err}");
    let err = bad(format!("address,label,source,colour\n{BITSTAMP},A,s,red\n"));
    assert!(err.starts_with("l.csv: line 1: header: unknown column 'colour'"), "{err}");
    let err = bad(format!("address,label\n{BITSTAMP},A\n"));
    assert!(err.starts_with("l.csv: line 1: header: column 'source' is missing"), "{err}");
    let err = bad(format!("{head}{BITSTAMP},A,,s\n"));
    assert!(err.starts_with("l.csv: line 2: CSV error"), "{err}");
}

#[test]
fn the_format_follows_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEADER}label: L\ntags:\n- address: {BITSTAMP}\n");
    for name in ["a.yaml", "b.YML"] {
        std::fs::write(dir.path().join(name), &text).unwrap();
        assert_eq!(read(&dir.path().join(name), Network::Main).unwrap().entries.len(), 1);
    }
    std::fs::write(dir.path().join("c.json"), "{}").unwrap();
    let err = read(&dir.path().join("c.json"), Network::Main).unwrap_err().to_string();
    assert!(err.contains("c.json: unknown kind of pack"), "{err}");
    let err = read(&dir.path().join("none.yaml"), Network::Main).unwrap_err().to_string();
    assert!(err.starts_with("cannot read tag pack") && err.contains("none.yaml"), "{err}");
    std::fs::write(dir.path().join("d.yaml"), b"title: T\n\xff\n").unwrap();
    let err = read(&dir.path().join("d.yaml"), Network::Main).unwrap_err().to_string();
    assert!(err.contains("line 2: the file is not UTF-8 text"), "{err}");
}
