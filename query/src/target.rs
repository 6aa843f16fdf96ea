//! What a trace or path starts from: a txid, an outpoint `txid:vout` or an address. Parsed
//! without the database (so malformed input is a usage error before anything is opened), then
//! resolved against it into tx numbers and the hop-0 set of each direction.

use std::str::FromStr;

use bitcoin::address::{NetworkUnchecked, ParseError};
use bitcoin::bech32::primitives::decode::{CharError, ChecksumError, SegwitHrpstringError, UncheckedHrpstringError};
use bitcoin::{base58, bech32, Address, Txid};
use indexer::storage::schema::{EventKind, HistoryKey, ScriptNum, TxNum};

use crate::chain::Chain;
use crate::cli::cut;
use crate::engine::Direction;
use crate::error::{QueryError, Result, UsageError, QUOTE_MAX};

/// A target as typed, checked for form only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    Tx(TxRef),
    Outpoint(TxRef, u32),
    Address(Address<NetworkUnchecked>),
}

/// A txid as typed: whole, or the start of one (at least [`MIN_TXID_PREFIX`] hex digits, as
/// tables print it when they cut it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxRef {
    Whole(Txid),
    /// Lower-case hex digits.
    Prefix(String),
}

/// A txid as tables print it cut (`0123abcd…`), without its ellipsis.
fn uncut(s: &str) -> &str {
    s.strip_suffix('…').or_else(|| s.strip_suffix("...")).unwrap_or(s)
}

/// The fewest hex digits a txid prefix may have.
pub const MIN_TXID_PREFIX: usize = 8;
/// Matches an ambiguous prefix lists at most.
const MAX_LISTED_MATCHES: usize = 10;

/// Parses a txid or a txid prefix of at least 8 hex digits; a trailing `…` or `...` (as a cut
/// txid is printed) is dropped.
pub fn parse_tx_ref(s: &str) -> Result<TxRef, UsageError> {
    let s = uncut(s);
    if s.len() == 64 {
        return parse_txid(s).map(TxRef::Whole);
    }
    if (MIN_TXID_PREFIX..64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(TxRef::Prefix(s.to_ascii_lowercase()));
    }
    Err(UsageError::Txid(s.into()))
}

impl TxRef {
    /// The txid meant: a prefix must match exactly one indexed txid.
    pub fn resolve(&self, chain: &Chain) -> Result<Txid> {
        use bitcoin::hashes::Hash;
        let prefix = match self {
            TxRef::Whole(txid) => return Ok(*txid),
            TxRef::Prefix(prefix) => prefix,
        };
        let bytes: Vec<u8> = (0..prefix.len() / 2)
            .map(|i| u8::from_str_radix(&prefix[2 * i..2 * i + 2], 16).expect("checked hex"))
            .collect();
        // An odd digit count scans the whole bytes and checks the last digit on each match.
        let scan = if prefix.len() % 2 == 1 { 16 * (MAX_LISTED_MATCHES + 1) } else { MAX_LISTED_MATCHES + 1 };
        let mut matches: Vec<Txid> = Vec::new();
        for (_, raw) in chain.store().txs_shown_from(&bytes, scan)? {
            let txid = Txid::from_byte_array(raw);
            if txid.to_string().starts_with(prefix.as_str()) && !matches.contains(&txid) {
                matches.push(txid);
            }
        }
        match matches.len() {
            0 => Err(QueryError::UnknownTxPrefix { prefix: prefix.clone(), tip: chain.tip_text() }),
            1 => Ok(matches[0]),
            _ => {
                let more = if matches.len() > MAX_LISTED_MATCHES { ", and more" } else { "" };
                let listed: Vec<String> = matches.iter().take(MAX_LISTED_MATCHES).map(|t| t.to_string()).collect();
                let matches = format!("{}{more}", listed.join(", "));
                Err(UsageError::AmbiguousTxid { prefix: prefix.clone(), matches }.into())
            }
        }
    }
}

/// Parses a txid: 64 hex digits in display order.
pub fn parse_txid(s: &str) -> Result<Txid, UsageError> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(UsageError::Txid(s.into()));
    }
    Txid::from_str(s).map_err(|_| UsageError::Txid(s.into()))
}

/// Parses an address of any network (the network is checked against the database later).
pub fn parse_address(s: &str) -> Result<Address<NetworkUnchecked>, UsageError> {
    Address::from_str(s).map_err(|e| UsageError::Address { input: s.into(), reason: address_problem(s, &e) })
}

/// What is wrong with `s` as an address, in words. Input that starts like bech32 (`bc1`, `tb1`,
/// `bcrt1`, any case) is judged as bech32 alone: the `bitcoin` crate falls back to base58 for it
/// and would report a base58 error for a mistyped bech32 address.
pub fn address_problem(s: &str, err: &ParseError) -> String {
    let lower = s.to_ascii_lowercase();
    let bech32_prefix = BECH32_PREFIXES.iter().find(|p| lower.starts_with(*p));
    if let Some(prefix) = bech32_prefix {
        if let Some(problem) = bech32_problem(&lower[prefix.len()..], s) {
            return problem;
        }
    }
    match err {
        // Valid bech32, but the part before its last `1` is no Bitcoin network's.
        ParseError::UnknownHrp(_) => {
            let prefix = s.rsplit_once('1').map_or(s, |(hrp, _)| hrp);
            format!("unknown prefix '{}1' (expected bc1..., tb1... or bcrt1...)", cut(prefix, QUOTE_MAX))
        }
        _ if bech32_prefix.is_some() => "not a valid segwit address (unknown witness version or program)".into(),
        _ => base58_problem(s, err),
    }
}

/// Lower-case starts of the bech32 addresses of Bitcoin's networks.
const BECH32_PREFIXES: [&str; 3] = ["bcrt1", "bc1", "tb1"];
/// The 32 characters of bech32 data (lower case).
const BECH32_CHARS: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
/// First characters of base58 addresses: 1 and 3 on mainnet, m, n and 2 on the test networks.
const BASE58_FIRST: [char; 5] = ['1', '3', 'm', 'n', '2'];
/// The base58 alphabet: digits and letters but 0, O, I and l.
const BASE58_CHARS: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/// Lengths of base58 addresses, in characters.
const BASE58_LENGTHS: std::ops::RangeInclusive<usize> = 26..=35;
const NOT_AN_ADDRESS: &str =
    "not a Bitcoin address (expected base58 like 1..., 3..., m..., 2... or bech32 like bc1..., tb1..., bcrt1...)";
const CHECKSUM: &str = "checksum mismatch — a typo?";
const WRONG_LENGTH: &str = "wrong length — a character missing or one too many?";

/// Why input starting like a bech32 address is not one; `data` is the lower-cased rest after the
/// prefix. None when it decodes (what is wrong is then the witness version or program).
fn bech32_problem(data: &str, s: &str) -> Option<String> {
    if let Some(c) = data.chars().find(|c| !BECH32_CHARS.contains(*c)) {
        return Some(format!("invalid character '{}' (bech32 has no b, i, o or 1 after the prefix)", c.escape_debug()));
    }
    if data.is_empty() {
        return Some("too short: nothing after the prefix".into());
    }
    let too_long = |len: usize| format!("too long: {len} characters (a bech32 address has at most 90)");
    let err = bech32::segwit::decode(s).err()?.0;
    Some(match err {
        SegwitHrpstringError::Checksum(ChecksumError::InvalidResidue) => CHECKSUM.into(),
        SegwitHrpstringError::Checksum(ChecksumError::CodeLength(e)) => too_long(e.encoded_length),
        SegwitHrpstringError::TooLong(len) => too_long(len),
        SegwitHrpstringError::Unchecked(UncheckedHrpstringError::Char(CharError::MixedCase))
        | SegwitHrpstringError::Unchecked(UncheckedHrpstringError::Hrp(bech32::primitives::hrp::Error::MixedCase)) => {
            "mixes upper and lower case (bech32 is all one case)".into()
        }
        SegwitHrpstringError::InvalidWitnessVersion(v) => {
            format!("invalid witness version '{v}' (the character after the prefix: q for v0, p for v1, ...)")
        }
        _ => WRONG_LENGTH.into(),
    })
}

/// Why input that is not bech32 is not a base58 address.
fn base58_problem(s: &str, err: &ParseError) -> String {
    if !s.starts_with(BASE58_FIRST) {
        return NOT_AN_ADDRESS.into();
    }
    if let Some(c) = s.chars().find(|c| !BASE58_CHARS.contains(*c)) {
        return format!("invalid character '{}' (base58 has no 0, O, I or l)", c.escape_debug());
    }
    let count = s.chars().count();
    let length = |what: &str| format!("{what}: {count} characters (a base58 address has 26 to 35)");
    match err {
        _ if count < *BASE58_LENGTHS.start() => length("too short"),
        _ if count > *BASE58_LENGTHS.end() => length("too long"),
        ParseError::Base58(base58::Error::IncorrectChecksum(_)) => CHECKSUM.into(),
        ParseError::InvalidBase58PayloadLength(_) => length("wrong length"),
        _ => NOT_AN_ADDRESS.into(),
    }
}

impl TargetSpec {
    /// Tells the kinds apart by content, not length: a regtest taproot address is 64 characters
    /// long, like a txid. A valid address (its checksum holds) is an address; otherwise a run of
    /// hex digits is taken for a txid; otherwise the input is reported as a malformed address.
    pub fn parse(s: &str) -> Result<TargetSpec, UsageError> {
        if let Some((txid, vout)) = s.rsplit_once(':') {
            let txid = parse_tx_ref(txid).map_err(|_| UsageError::Outpoint(s.into()))?;
            let vout = vout.parse().map_err(|_| UsageError::Outpoint(s.into()))?;
            return Ok(TargetSpec::Outpoint(txid, vout));
        }
        let address = parse_address(s);
        if let Ok(address) = address {
            return Ok(TargetSpec::Address(address));
        }
        let hex = uncut(s).bytes().all(|b| b.is_ascii_hexdigit());
        if hex && s.len() >= MIN_TXID_PREFIX {
            return parse_tx_ref(s).map(TargetSpec::Tx);
        }
        if s.len() < 14 {
            return Err(UsageError::Target(s.into()));
        }
        address.map(TargetSpec::Address)
    }

    /// Resolves the target against the database.
    pub fn resolve(&self, chain: &Chain) -> Result<Target> {
        match self {
            TargetSpec::Tx(txid) => {
                let txid = txid.resolve(chain)?;
                let nums = chain.txnums(&txid)?;
                Ok(Target::Tx { num: nums[0], txid, duplicates: nums.len() - 1 })
            }
            TargetSpec::Outpoint(txid, vout) => {
                let txid = txid.resolve(chain)?;
                let nums = chain.txnums(&txid)?;
                let count = chain.store().output_entries(nums[0])?.map(|o| o.0.len()).unwrap_or(0) as u32;
                if *vout >= count {
                    return Err(QueryError::NoSuchOutput { txid: txid.to_string(), vout: *vout, count });
                }
                Ok(Target::Outpoint { num: nums[0], txid, vout: *vout, duplicates: nums.len() - 1 })
            }
            TargetSpec::Address(address) => {
                let script = chain.address_script(address)?;
                Ok(Target::Script {
                    num: chain.script_num(&script)?,
                    address: address.assume_checked_ref().to_string(),
                })
            }
        }
    }
}

/// A target found in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `duplicates` counts later occurrences of the same txid (BIP30); the first is used.
    Tx {
        num: TxNum,
        txid: Txid,
        duplicates: usize,
    },
    Outpoint {
        num: TxNum,
        txid: Txid,
        vout: u32,
        duplicates: usize,
    },
    Script {
        /// `None` when the indexed chain never paid it.
        num: Option<ScriptNum>,
        address: String,
    },
}

/// The hop-0 set of a target in one direction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Roots {
    /// In chain order, without repeats.
    pub txs: Vec<TxNum>,
    /// More txs belong to the set than the cap allowed.
    pub truncated: bool,
}

impl Target {
    /// The target as it is shown in results.
    pub fn label(&self) -> String {
        match self {
            Target::Tx { txid, .. } => txid.to_string(),
            Target::Outpoint { txid, vout, .. } => format!("{txid}:{vout}"),
            Target::Script { address, .. } => address.clone(),
        }
    }

    /// The hop-0 set: the tx itself; for an outpoint the tx that spent it (forward) or made it
    /// (backward); for an address every tx spending from it (forward) or paying it (backward).
    /// At most `cap` txs.
    pub fn roots(&self, chain: &Chain, direction: Direction, cap: usize) -> Result<Roots> {
        let txs = match (self, direction) {
            (Target::Tx { num, .. }, _) | (Target::Outpoint { num, .. }, Direction::Backward) => vec![*num],
            (Target::Outpoint { num, vout, .. }, Direction::Forward) => {
                chain.store().spend(*num, *vout)?.map(|s| s.txnum).into_iter().collect()
            }
            (Target::Script { num: None, .. }, _) => Vec::new(),
            (Target::Script { num: Some(num), .. }, direction) => {
                let kind = match direction {
                    Direction::Forward => EventKind::Spent,
                    Direction::Backward => EventKind::Funded,
                };
                return script_txs(chain, *num, kind, cap);
            }
        };
        Ok(Roots { txs, truncated: false })
    }

    /// Why the hop-0 set in `direction` is empty.
    pub fn empty_note(&self, direction: Direction) -> String {
        let label = self.label();
        match (self, direction) {
            (Target::Outpoint { .. }, _) => format!("output {label} is unspent: nothing spent it yet"),
            (Target::Script { .. }, Direction::Forward) => {
                format!("nothing has been spent from {label} on the indexed chain")
            }
            (Target::Script { .. }, Direction::Backward) => format!("nothing has paid {label} on the indexed chain"),
            (Target::Tx { .. }, _) => format!("{label} has nothing to follow"),
        }
    }

    /// Notes for the reader about how the target was resolved.
    pub fn notes(&self) -> Vec<String> {
        match self {
            Target::Tx { txid, duplicates, .. } | Target::Outpoint { txid, duplicates, .. } if *duplicates > 0 => {
                vec![format!(
                    "txid {txid} occurs {} times in the chain (BIP30 duplicate); using the first",
                    duplicates + 1
                )]
            }
            _ => Vec::new(),
        }
    }
}

/// Distinct txs with a history event of `kind` for a script, in chain order, at most `cap`.
fn script_txs(chain: &Chain, script: ScriptNum, kind: EventKind, cap: usize) -> Result<Roots> {
    let mut roots = Roots::default();
    for event in chain.store().history_from(HistoryKey::first_at(script, 0)) {
        let (event, _) = event?;
        if event.kind != kind || roots.txs.last() == Some(&event.txnum) {
            continue;
        }
        if roots.txs.len() >= cap {
            roots.truncated = true;
            break;
        }
        roots.txs.push(event.txnum);
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of three txs shown as ab12…01…, ab12…02… and ab13…01….
    fn prefixed_chain(dir: &std::path::Path) -> Chain {
        use indexer::storage::excerpt::{Excerpt, ExcerptBlock, ExcerptTx};
        let tx = |start: [u8; 3], position: u32| {
            let mut txid = [position as u8 + 1; 32];
            txid[29..].copy_from_slice(&[start[2], start[1], start[0]]);
            ExcerptTx {
                txid,
                height: 1,
                position,
                outputs: vec![(10, vec![0x51])],
                inputs: (position == 0).then(Vec::new),
                spent: Vec::new(),
            }
        };
        let excerpt = Excerpt {
            network: "regtest".into(),
            tip: (1, [1; 32]),
            blocks: vec![ExcerptBlock { height: 1, hash: [1; 32], header: [0; 80] }],
            txs: vec![tx([0xab, 0x12, 0x01], 0), tx([0xab, 0x12, 0x02], 1), tx([0xab, 0x13, 0x01], 2)],
            ..Excerpt::default()
        };
        Chain::new(excerpt.write(dir, 8 << 20).unwrap(), None).unwrap()
    }

    #[test]
    fn a_txid_prefix_names_one_tx_or_lists_its_matches() {
        let dir = tempfile::tempdir().unwrap();
        let chain = prefixed_chain(dir.path());
        let found = TxRef::Prefix("ab1301".into()).resolve(&chain).unwrap();
        assert!(found.to_string().starts_with("ab1301"), "{found}");
        let err = TxRef::Prefix("ab12".into()).resolve(&chain).unwrap_err().to_string();
        assert!(err.starts_with("txid prefix ab12 is ambiguous: it starts ab1201"), "{err}");
        assert!(err.contains(", ab1202") && err.ends_with("; give more digits"), "{err}");
        // An odd number of digits: the last one is checked on each candidate.
        let err = TxRef::Prefix("ab1".into()).resolve(&chain).unwrap_err().to_string();
        assert!(err.contains("ab1201") && err.contains("ab1202") && err.contains("ab1301"), "{err}");
        assert_eq!(TxRef::Prefix("ab120".into()).resolve(&chain).unwrap_err().to_string().matches("ab120").count(), 3);
        let err = TxRef::Prefix("ab14".into()).resolve(&chain).unwrap_err().to_string();
        assert_eq!(err, "no indexed transaction's txid starts with ab14 (indexed up to height 1)");
    }

    const TXID: &str = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";

    #[test]
    fn txids_outpoints_and_addresses_are_told_apart() {
        assert_eq!(TargetSpec::parse(TXID).unwrap(), TargetSpec::Tx(TxRef::Whole(parse_txid(TXID).unwrap())));
        assert_eq!(
            TargetSpec::parse(&format!("{TXID}:7")).unwrap(),
            TargetSpec::Outpoint(TxRef::Whole(parse_txid(TXID).unwrap()), 7)
        );
        let addr = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
        assert!(matches!(TargetSpec::parse(addr).unwrap(), TargetSpec::Address(_)));
    }

    /// Every address kind of every network, built from fixed keys and hashes.
    fn every_address() -> Vec<Address> {
        use bitcoin::key::{Secp256k1, UntweakedPublicKey};
        use bitcoin::{CompressedPublicKey, Network, PubkeyHash, ScriptBuf};
        let secp = Secp256k1::new();
        let secret = bitcoin::secp256k1::SecretKey::from_slice(&[7; 32]).unwrap();
        let key = CompressedPublicKey(secret.public_key(&secp));
        let xonly = UntweakedPublicKey::from(secret.public_key(&secp));
        let witness_script = ScriptBuf::from_bytes(vec![0x51]);
        let mut all = Vec::new();
        for network in [Network::Bitcoin, Network::Testnet, Network::Testnet4, Network::Signet, Network::Regtest] {
            all.push(Address::p2pkh(PubkeyHash::from(key), network));
            all.push(Address::p2sh(&witness_script, network).unwrap());
            all.push(Address::p2shwpkh(&key, network));
            all.push(Address::p2wpkh(&key, network));
            all.push(Address::p2wsh(&witness_script, network));
            all.push(Address::p2tr(&secp, xonly, None, network));
        }
        all
    }

    #[test]
    fn every_address_kind_of_every_network_is_read_as_an_address() {
        let all = every_address();
        assert_eq!(all.len(), 30);
        for address in all {
            let text = address.to_string();
            let parsed = TargetSpec::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed, TargetSpec::Address(address.as_unchecked().clone()), "{text}");
        }
        // The case that was misread: regtest taproot addresses are exactly txid-length.
        let regtest_taproot =
            every_address().into_iter().rfind(|a| a.address_type() == Some(bitcoin::AddressType::P2tr)).unwrap();
        assert_eq!(regtest_taproot.to_string().len(), 64);
    }

    #[test]
    fn a_txid_is_never_taken_for_an_address_nor_an_address_for_a_txid() {
        for txid in [TXID, "0000000000000000000000000000000000000000000000000000000000000000", &TXID.to_uppercase()] {
            assert!(matches!(TargetSpec::parse(txid).unwrap(), TargetSpec::Tx(_)), "{txid}");
        }
        // One character off in a regtest taproot address: a malformed address, not a txid.
        let taproot = every_address()
            .into_iter()
            .rfind(|a| a.address_type() == Some(bitcoin::AddressType::P2tr))
            .unwrap()
            .to_string();
        let last = if taproot.ends_with('q') { "p" } else { "q" };
        let broken = format!("{}{last}", &taproot[..63]);
        let err = TargetSpec::parse(&broken).unwrap_err();
        assert!(matches!(err, UsageError::Address { .. }), "{err}");
    }

    #[test]
    fn malformed_targets_are_usage_errors_naming_the_problem() {
        assert!(matches!(TargetSpec::parse(&format!("{TXID}0")), Err(UsageError::Txid(_))));
        // Shorter runs of hex digits are txid prefixes, down to 8 digits, with or without the
        // ellipsis tables print.
        let prefix = TxRef::Prefix(TXID[..16].to_string());
        assert_eq!(TargetSpec::parse(&TXID[..16]).unwrap(), TargetSpec::Tx(prefix.clone()));
        assert_eq!(TargetSpec::parse(&format!("{}…", &TXID[..16])).unwrap(), TargetSpec::Tx(prefix.clone()));
        assert_eq!(TargetSpec::parse(&format!("{}…:3", &TXID[..16])).unwrap(), TargetSpec::Outpoint(prefix, 3));
        assert!(matches!(TargetSpec::parse(&TXID[..63]).unwrap(), TargetSpec::Tx(TxRef::Prefix(_))));
        assert!(matches!(parse_tx_ref(&TXID[..7]), Err(UsageError::Txid(_))));
        assert!(matches!(TargetSpec::parse(&format!("{TXID}:x")), Err(UsageError::Outpoint(_))));
        assert!(matches!(TargetSpec::parse("abc:1"), Err(UsageError::Outpoint(_))));
        assert!(matches!(TargetSpec::parse("hello"), Err(UsageError::Target(_))));
        let err = TargetSpec::parse("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt081").unwrap_err();
        assert!(matches!(err, UsageError::Address { .. }), "{err}");
        assert!(err.to_string().starts_with("malformed address 'bcrt1q"), "{err}");
    }

    /// The reason given for an input that is not an address.
    fn reason(s: &str) -> String {
        match parse_address(s) {
            Err(UsageError::Address { reason, .. }) => reason,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn a_mistyped_address_is_a_checksum_mismatch_in_either_encoding() {
        let checksum = "checksum mismatch — a typo?";
        assert_eq!(reason("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt08q"), checksum);
        assert_eq!(reason("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T5"), checksum);
        assert_eq!(reason("1JoktQJhCzuCQkt3GnQ8Xddcq4mUgNyXEb"), checksum);
        assert_eq!(reason("3A1KUd5H4hBEHk4bZB4C3hGgvuXuVX7p7u"), checksum);
        // A character left out of a bech32 address: still never a word of base58.
        let short = reason("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t");
        assert!(short == checksum || short.starts_with("wrong length"), "{short}");
    }

    #[test]
    fn bech32_input_is_never_judged_as_base58() {
        for (input, says) in [
            ("bcrt1qnotanaddress", "invalid character 'o' (bech32 has no b, i, o or 1 after the prefix)"),
            ("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt081", "invalid character '1'"),
            ("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsX", "mixes upper and lower case"),
            ("bc1", "too short"),
            (
                "bc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
                "too long: 101 characters",
            ),
        ] {
            let got = reason(input);
            assert!(got.starts_with(says), "{input}: {got}");
            assert!(!got.contains("base58"), "{input}: {got}");
        }
        assert!(!reason(&format!("bc1{}", "q".repeat(100_000))).contains("base58"));
    }

    #[test]
    fn other_malformed_addresses_say_what_is_wrong() {
        let not = "not a Bitcoin address (expected base58 like 1..., 3..., m..., 2... \
                   or bech32 like bc1..., tb1..., bcrt1...)";
        assert_eq!(reason("0xdeadbeefdeadbeefdeadbeef"), not);
        assert_eq!(reason(&"x".repeat(100_000)), not);
        assert_eq!(reason("1JoktQJhCzuCQkt3GnQ8Xddcq4mUgNyXE0"), "invalid character '0' (base58 has no 0, O, I or l)");
        assert_eq!(reason("1Jokt"), "too short: 5 characters (a base58 address has 26 to 35)");
        assert_eq!(reason(&format!("1{}", "a".repeat(59))), "too long: 60 characters (a base58 address has 26 to 35)");
        let hrp = bech32::Hrp::parse("ltc").unwrap();
        let litecoin = bech32::segwit::encode(hrp, bech32::segwit::VERSION_0, &[7; 20]).unwrap();
        assert_eq!(reason(&litecoin), "unknown prefix 'ltc1' (expected bc1..., tb1... or bcrt1...)");
    }

    #[test]
    fn long_input_is_cut_in_every_message() {
        let long = "a".repeat(100_000);
        for err in [
            parse_txid(&long).unwrap_err(),
            TargetSpec::parse(&long).unwrap_err(),
            TargetSpec::parse(&format!("{long}:1")).unwrap_err(),
            TargetSpec::parse(&"z".repeat(100_000)).unwrap_err(),
            parse_address(&format!("bcrt1{long}")).unwrap_err(),
        ] {
            let text = err.to_string();
            assert!(text.len() < 300, "{}: {}", text.len(), &text[..300]);
        }
        assert_eq!(
            parse_txid("12z4").unwrap_err().to_string(),
            "malformed txid '12z4': expected 64 hexadecimal digits (or a prefix of at least 8), got 4 characters"
        );
        assert_eq!(
            parse_txid(&format!("{}z", &TXID[1..])).unwrap_err().to_string(),
            format!("malformed txid '{}z': expected 64 hexadecimal digits, but 'z' is not one", &TXID[1..])
        );
    }
}
