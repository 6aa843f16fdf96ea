//! Property tests of every parser that reads a user's text: targets (address, txid, outpoint),
//! amounts, dates, page cursors, tag packs (YAML and CSV) and the config file. On arbitrary
//! strings and on near-valid ones (a valid input with one character changed, cut short or
//! extended) each returns `Ok` or `Err` and never panics. `PROPTEST_CASES` sets the cases per
//! property (default [`DEFAULT_CASES`]); see `docs/reliability.md` for the full run.

use clap::Parser;
use indexer::network::Network;
use proptest::prelude::*;

use crate::cli::{parse_amount, parse_date, parse_end_date, Cli};
use crate::cmd::cluster::MemberCursor;
use crate::cmd::history::Cursor;
use crate::config::Settings;
use crate::tags::pack::{parse_csv, parse_yaml};
use crate::tags::store::Cursor as TagCursor;
use crate::target::{parse_address, parse_txid, TargetSpec};

/// Cases per property in the normal test run.
const DEFAULT_CASES: u32 = 512;

/// Cases per property: `PROPTEST_CASES` when set, else [`DEFAULT_CASES`].
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_CASES)
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(cases())
}

const TXID: &str = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";

/// Valid addresses of every kind, on main, test and regtest.
fn addresses() -> Vec<String> {
    use bitcoin::hashes::Hash;
    use bitcoin::{Address, Network as Net, PubkeyHash, ScriptHash, WitnessProgram, WitnessVersion};
    let mut out = Vec::new();
    for net in [Net::Bitcoin, Net::Testnet, Net::Regtest] {
        out.push(Address::p2pkh(PubkeyHash::from_byte_array([7; 20]), net).to_string());
        out.push(Address::p2sh_from_hash(ScriptHash::from_byte_array([8; 20]), net).to_string());
        for (version, len) in [(WitnessVersion::V0, 20), (WitnessVersion::V0, 32), (WitnessVersion::V1, 32)] {
            let program = WitnessProgram::new(version, &vec![9; len]).expect("valid program length");
            out.push(Address::from_witness_program(program, net).to_string());
        }
    }
    out
}

const AMOUNTS: [&str; 6] = ["5000SAT", "5000sat", "5000 sats", "1.5", "2btc", "0.00000001 BTC"];
const DATES: [&str; 3] = ["2024-01-31", "2024-01-31T12:00:00Z", "2009-01-03T18:15:05+01:00"];
const CURSORS: [&str; 4] = ["c12f0", "c7s3", "100000:42", "s00ff"];

fn yaml_pack() -> String {
    format!(
        "title: Exchange wallets\ncreator: Investigator\nlastmod: 2024-01-31\nlabel: Exchange\ncategory: exchange\ncurrency: BTC\n\
         source: https://example.com\nconfidence: forensic\ntags:\n  - address: {}\n    label: Genesis\n\
         \x20 - tx_hash: {TXID}\n",
        addresses()[0]
    )
}

fn csv_pack() -> String {
    format!("address,label,category,source,confidence\n{},Genesis,miner,https://example.com,forensic\n", addresses()[0])
}

const CONFIGS: [&str; 4] = [
    include_str!("../../config/mainnet.toml"),
    include_str!("../../config/regtest.toml"),
    include_str!("../../config/signet.toml"),
    include_str!("../../config/testnet4.toml"),
];

/// One edit to a valid input, by characters: a typo, a paste cut short or run on.
#[derive(Debug, Clone)]
enum Edit {
    Replace { at: usize, with: char },
    Truncate { to: usize },
    Extend(String),
    Insert { at: usize, with: char },
    Remove { at: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<char>()).prop_map(|(at, with)| Edit::Replace { at, with }),
        (any::<usize>(), "[0-9a-zA-Z]").prop_map(|(at, s)| Edit::Replace { at, with: s.chars().next().unwrap_or('x') }),
        any::<usize>().prop_map(|to| Edit::Truncate { to }),
        "\\PC{1,8}".prop_map(Edit::Extend),
        (any::<usize>(), any::<char>()).prop_map(|(at, with)| Edit::Insert { at, with }),
        any::<usize>().prop_map(|at| Edit::Remove { at }),
    ]
}

fn apply(s: &str, e: &Edit) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    match e {
        Edit::Replace { at, with } if n > 0 => chars[at % n] = *with,
        Edit::Truncate { to } => chars.truncate(to % (n + 1)),
        Edit::Extend(tail) => chars.extend(tail.chars()),
        Edit::Insert { at, with } => chars.insert(at % (n + 1), *with),
        Edit::Remove { at } if n > 0 => {
            chars.remove(at % n);
        }
        Edit::Replace { .. } | Edit::Remove { .. } => {}
    }
    chars.into_iter().collect()
}

/// A valid input of `seeds` with up to three edits.
fn near<S: AsRef<str> + std::fmt::Debug + 'static>(seeds: impl Into<Vec<S>>) -> impl Strategy<Value = String> {
    let seeds: Vec<S> = seeds.into();
    (0..seeds.len(), proptest::collection::vec(edit(), 0..=3))
        .prop_map(move |(i, edits)| edits.iter().fold(seeds[i].as_ref().to_string(), |s, e| apply(&s, e)))
}

/// Arbitrary text: any characters, or printable ones only.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![".*", "\\PC*"]
}

fn near_target() -> impl Strategy<Value = String> {
    prop_oneof![
        near(addresses()),
        near([TXID]),
        near([TXID]).prop_map(|t| format!("{t}:{}", t.len())),
        (near([TXID]), "[0-9]{0,12}|\\PC{0,4}").prop_map(|(t, v)| format!("{t}:{v}")),
    ]
}

fn all_targets(s: &str) {
    let _ = TargetSpec::parse(s);
    let _ = parse_address(s);
    let _ = parse_txid(s);
}

fn all_values(s: &str) {
    let _ = parse_amount(s);
    let _ = parse_date(s);
    let _ = parse_end_date(s);
    let _ = Cursor::parse(s);
    let _ = MemberCursor::parse(s);
    let _ = TagCursor::parse(s);
}

fn all_packs(s: &str) {
    for network in [Network::Main, Network::Regtest] {
        let _ = parse_yaml("pack.yaml", s, network);
        let _ = parse_csv("pack.csv", s.as_bytes(), network);
    }
}

/// Resolves the settings of `query tx` with `text` as the config file.
fn resolve_with(dir: &std::path::Path, text: &str) -> Result<Settings, crate::error::UsageError> {
    let path = dir.join("query.toml");
    std::fs::write(&path, text).expect("writing to a temporary directory");
    let cli = Cli::try_parse_from(["query", "--config", path.to_str().expect("UTF-8 path"), "--db", "/x", "tx", "00"])
        .expect("valid command line");
    Settings::resolve(&cli)
}

/// A config file made of known keys with arbitrary values, in arbitrary sections.
fn near_config() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("[query]".to_string()),
        Just("[indexer]".to_string()),
        Just("[rpc]".to_string()),
        "(network|db|format|tags|url|cookie|feed) = \"\\PC{0,12}\"",
        (prop_oneof![Just("cache_mb"), Just("max_txs"), Just("path_max_txs"), Just("undo_depth")], any::<i64>())
            .prop_map(|(k, v)| format!("{k} = {v}")),
        "[a-z_]{1,12} = (true|1e99|-0|\"x\"|\\[\\]|\\{\\})",
    ];
    prop_oneof![near(CONFIGS), proptest::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n")),]
}

#[test]
fn the_seeds_are_valid() {
    for a in &addresses() {
        assert!(matches!(TargetSpec::parse(a), Ok(TargetSpec::Address(_))), "{a}: {:?}", TargetSpec::parse(a));
    }
    assert!(matches!(TargetSpec::parse(TXID), Ok(TargetSpec::Tx(_))));
    assert!(matches!(TargetSpec::parse(&format!("{TXID}:3")), Ok(TargetSpec::Outpoint(_, 3))));
    let amounts: Vec<u64> = AMOUNTS.iter().map(|a| parse_amount(a).unwrap()).collect();
    assert_eq!(amounts, [5000, 5000, 5000, 150_000_000, 200_000_000, 1]);
    assert_eq!(parse_date(DATES[0]), Ok(1_706_659_200));
    assert_eq!(parse_end_date(DATES[0]), Ok(1_706_745_599));
    assert!(DATES.iter().all(|d| parse_date(d).is_ok()));
    assert!(Cursor::parse(CURSORS[0]).is_ok() && Cursor::parse(CURSORS[1]).is_ok());
    assert!(MemberCursor::parse(CURSORS[2]).is_ok());
    assert!(TagCursor::parse(CURSORS[3]).is_some());
    let yaml = parse_yaml("pack.yaml", &yaml_pack(), Network::Main).unwrap();
    assert_eq!(yaml.entries.len(), 2);
    assert_eq!(parse_csv("pack.csv", csv_pack().as_bytes(), Network::Main).unwrap().entries.len(), 1);
    let dir = tempfile::tempdir().unwrap();
    for c in CONFIGS {
        assert!(resolve_with(dir.path(), c).is_ok(), "{c}");
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn targets_never_panic_on_arbitrary_text(s in text()) {
        all_targets(&s);
    }

    #[test]
    fn targets_never_panic_on_near_valid_text(s in near_target()) {
        all_targets(&s);
        // A one-character change to a txid's hex digits is still a txid; anything parsed as an
        // outpoint has a valid txid before its last colon.
        if let Ok(TargetSpec::Outpoint(txid, _)) = TargetSpec::parse(&s) {
            let (t, _) = s.rsplit_once(':').unwrap();
            prop_assert_eq!(crate::target::parse_tx_ref(t).ok(), Some(txid));
        }
    }

    #[test]
    fn amounts_dates_and_cursors_never_panic_on_arbitrary_text(s in text()) {
        all_values(&s);
    }

    #[test]
    fn amounts_dates_and_cursors_never_panic_on_near_valid_text(
        s in prop_oneof![near(AMOUNTS), near(DATES), near(CURSORS)],
    ) {
        all_values(&s);
        if let Ok(sats) = parse_amount(&s) {
            prop_assert!(sats <= 21_000_000 * 100_000_000);
        }
        if let (Ok(start), Ok(end)) = (parse_date(&s), parse_end_date(&s)) {
            prop_assert!(start <= end && end - start < 86_400);
        }
    }

    #[test]
    fn amounts_in_range_round_trip(sats in 0..=21_000_000u64 * 100_000_000) {
        prop_assert_eq!(parse_amount(&format!("{sats}sat")), Ok(sats));
        if sats > 0 {
            prop_assert!(parse_amount(&sats.to_string()).unwrap_err().contains("has no unit"));
        }
        prop_assert_eq!(parse_amount(&format!("{}.{:08}btc", sats / 100_000_000, sats % 100_000_000)), Ok(sats));
    }

    #[test]
    fn history_cursors_round_trip(txnum in any::<u64>(), spent in any::<bool>(), index in any::<u32>()) {
        let kind = if spent { 's' } else { 'f' };
        let c = Cursor::parse(&format!("c{txnum}{kind}{index}")).unwrap();
        prop_assert_eq!((c.txnum, c.kind as u8, c.index), (txnum, u8::from(spent), index));
    }

    #[test]
    fn tag_packs_never_panic_on_arbitrary_text(s in text()) {
        all_packs(&s);
    }

    #[test]
    fn tag_packs_never_panic_on_near_valid_text(s in near([yaml_pack(), csv_pack()])) {
        all_packs(&s);
    }

    #[test]
    fn the_config_file_never_panics_on_arbitrary_text(s in text()) {
        let dir = tempfile::tempdir().unwrap();
        let _ = resolve_with(dir.path(), &s);
    }

    #[test]
    fn the_config_file_never_panics_on_near_valid_text(s in near_config()) {
        let dir = tempfile::tempdir().unwrap();
        if let Ok(settings) = resolve_with(dir.path(), &s) {
            prop_assert!(settings.trace_max_txs >= 1 && settings.path_max_txs >= 1);
            prop_assert!(settings.cache_bytes >= 1 << 20);
        }
    }
}
