//! Property tests of every table's key and value codec on hostile bytes: decoding arbitrary bytes,
//! and mutations of valid encodings, returns `Ok` or `Err` and never panics; every row that can
//! be generated decodes back to itself. `PROPTEST_CASES` sets the cases per property (default
//! [`DEFAULT_CASES`]); see `docs/reliability.md` for the full run.

use proptest::prelude::*;

use super::*;

/// Cases per property in the normal test run.
const DEFAULT_CASES: u32 = 512;

/// Cases per property: `PROPTEST_CASES` when set, else [`DEFAULT_CASES`].
pub(crate) fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_CASES)
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(cases())
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..200)
}

/// One edit to a valid encoding: what a torn write or a foreign database leaves.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate { to: usize },
    Extend(Vec<u8>),
    Insert { at: usize, byte: u8 },
    Remove { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=u8::MAX).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<usize>().prop_map(|to| Mutation::Truncate { to }),
        proptest::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Extend),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
    ]
}

fn mutate(mut b: Vec<u8>, m: &Mutation) -> Vec<u8> {
    match m {
        Mutation::Flip { at, mask } if !b.is_empty() => {
            let at = at % b.len();
            b[at] ^= mask;
        }
        Mutation::Truncate { to } => b.truncate(to % (b.len() + 1)),
        Mutation::Extend(tail) => b.extend_from_slice(tail),
        Mutation::Insert { at, byte } => b.insert(at % (b.len() + 1), *byte),
        Mutation::Remove { at } if !b.is_empty() => {
            b.remove(at % b.len());
        }
        Mutation::Flip { .. } | Mutation::Remove { .. } => b.push(0),
    }
    b
}

/// `v` decodes back to itself, and a mutation of its bytes decodes without a panic.
fn check<T: Codec + PartialEq + std::fmt::Debug>(v: &T, m: &Mutation) -> Result<(), TestCaseError> {
    let bytes = v.encode();
    let back = T::decode(&bytes).ok();
    prop_assert_eq!(back.as_ref(), Some(v));
    let _ = T::decode(&mutate(bytes, m));
    Ok(())
}

/// Decodes `b` as `T` and, when that succeeds, encodes the result and decodes it again to the
/// same value (what was read can be written back).
fn decodes_any<T: Codec + PartialEq + std::fmt::Debug>(b: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(v) = T::decode(b) {
        prop_assert_eq!(T::decode(&v.encode()).ok(), Some(v));
    }
    Ok(())
}

fn decodes_any_row<T: Table>(b: &[u8]) -> Result<(), TestCaseError>
where
    T::Key: PartialEq + std::fmt::Debug,
    T::Value: PartialEq + std::fmt::Debug,
{
    decodes_any::<T::Key>(b)?;
    decodes_any::<T::Value>(b)
}

fn num() -> impl Strategy<Value = u64> {
    0..=MAX_NUM
}

fn hash() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn meta() -> impl Strategy<Value = Meta> {
    (any::<u32>(), "\\PC{0,12}", hash(), proptest::option::of((any::<u32>(), hash())), any::<u64>(), any::<u64>())
        .prop_map(|(schema_version, network, genesis_hash, tip, next_txnum, next_scriptnum)| Meta {
            schema_version,
            network,
            genesis_hash,
            tip,
            next_txnum,
            next_scriptnum,
        })
}

fn stage() -> impl Strategy<Value = StageId> {
    prop_oneof![Just(StageId::Addresses), Just(StageId::Clusters)]
}

prop_compose! {
    fn checkpoint()(height in any::<u32>(), hash in hash()) -> Checkpoint {
        Checkpoint { height, hash }
    }
}

prop_compose! {
    fn header_row()(
        hash in hash(),
        header in proptest::collection::vec(any::<u8>(), 80),
        first_txnum in num(),
        tx_count in any::<u32>(),
        size in any::<u32>(),
        first_scriptnum in num(),
    ) -> HeaderRow {
        let header = header.try_into().expect("80 bytes generated");
        HeaderRow { hash, header, first_txnum, tx_count, size, first_scriptnum }
    }
}

prop_compose! {
    fn tx_row()(txid in hash(), height in any::<u32>(), position in any::<u32>()) -> TxRow {
        TxRow { txid, height, position }
    }
}

prop_compose! {
    fn prefix_key()(prefix in any::<[u8; 8]>(), num in num()) -> PrefixKey {
        PrefixKey { prefix, num }
    }
}

fn output_entry() -> impl Strategy<Value = OutputEntry> {
    let script = prop_oneof![
        num().prop_map(OutScript::Num),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(OutScript::Unspendable),
    ];
    (any::<u64>(), script).prop_map(|(value, script)| OutputEntry { value, script })
}

fn outputs_row() -> impl Strategy<Value = OutputsRow> {
    proptest::collection::vec(output_entry(), 0..8).prop_map(OutputsRow)
}

prop_compose! {
    fn out_key()(txnum in num(), vout in any::<u32>()) -> OutKey {
        OutKey { txnum, vout }
    }
}

prop_compose! {
    fn io_ref()(txnum in any::<u64>(), index in any::<u32>()) -> IoRef {
        IoRef { txnum, index }
    }
}

prop_compose! {
    fn input_entry()(back in any::<u64>(), vout in any::<u32>(), value in any::<u64>()) -> InputEntry {
        InputEntry { back, vout, value }
    }
}

fn inputs_row() -> impl Strategy<Value = InputsRow> {
    proptest::collection::vec(input_entry(), 0..8).prop_map(InputsRow)
}

fn event_kind() -> impl Strategy<Value = EventKind> {
    prop_oneof![Just(EventKind::Funded), Just(EventKind::Spent)]
}

prop_compose! {
    fn history_key()(script in num(), txnum in num(), kind in event_kind(), index in any::<u32>()) -> HistoryKey {
        HistoryKey { script, txnum, kind, index }
    }
}

prop_compose! {
    fn utxo_key()(script in num(), txnum in num(), vout in any::<u32>()) -> UtxoKey {
        UtxoKey { script, txnum, vout }
    }
}

fn undo_entry() -> impl Strategy<Value = UndoEntry> {
    (any::<u8>(), bytes(), proptest::option::of(bytes())).prop_map(|(table, key, old)| UndoEntry { table, key, old })
}

prop_compose! {
    fn block_undo()(entries in proptest::collection::vec(undo_entry(), 0..6), meta_before in meta()) -> BlockUndo {
        BlockUndo { entries, meta_before }
    }
}

prop_compose! {
    fn cluster_row()(size in any::<u64>(), first in any::<u64>()) -> ClusterRow {
        ClusterRow { size, first }
    }
}

prop_compose! {
    fn size_key()(size in any::<u64>(), root in num()) -> SizeKey {
        SizeKey { size, root }
    }
}

fn link_row() -> impl Strategy<Value = LinkRow> {
    let reason = prop_oneof![Just(LinkReason::SpentTogether), Just(LinkReason::SameKey), Just(LinkReason::Change)];
    (any::<u64>(), reason).prop_map(|(txnum, reason)| LinkRow { txnum, reason })
}

prop_compose! {
    fn cluster_state()(version in any::<u16>(), change in any::<bool>(), next_script in num()) -> ClusterState {
        ClusterState { version, change, next_script }
    }
}

/// One property per table: its key and value decoders on arbitrary bytes.
macro_rules! every_table_decodes_arbitrary_bytes {
    ($($test:ident: $table:ty,)*) => {
        proptest! {
            #![proptest_config(config())]
            $(
                #[test]
                fn $test(b in bytes()) {
                    decodes_any_row::<$table>(&b)?;
                }
            )*
        }

        #[test]
        fn every_table_has_a_decoder_property() {
            let listed: &[&str] = &[$(<$table as Table>::NAME),*];
            assert_eq!(listed, TABLES);
        }
    };
}

every_table_decodes_arbitrary_bytes! {
    meta_decodes_arbitrary_bytes: MetaTable,
    stages_decodes_arbitrary_bytes: Stages,
    headers_decodes_arbitrary_bytes: Headers,
    block_heights_decodes_arbitrary_bytes: BlockHeights,
    txs_decodes_arbitrary_bytes: Txs,
    txids_decodes_arbitrary_bytes: Txids,
    outputs_decodes_arbitrary_bytes: Outputs,
    inputs_decodes_arbitrary_bytes: Inputs,
    spends_decodes_arbitrary_bytes: Spends,
    scripts_decodes_arbitrary_bytes: Scripts,
    script_ids_decodes_arbitrary_bytes: ScriptIds,
    history_decodes_arbitrary_bytes: History,
    utxos_decodes_arbitrary_bytes: Utxos,
    undo_decodes_arbitrary_bytes: Undo,
    cluster_parents_decodes_arbitrary_bytes: ClusterParents,
    cluster_children_decodes_arbitrary_bytes: ClusterChildren,
    clusters_decodes_arbitrary_bytes: Clusters,
    cluster_sizes_decodes_arbitrary_bytes: ClusterSizes,
    cluster_links_decodes_arbitrary_bytes: ClusterLinks,
    p2pk_keys_decodes_arbitrary_bytes: P2pkKeys,
    cluster_state_decodes_arbitrary_bytes: ClusterStates,
    sealed_decodes_arbitrary_bytes: SealedMark,
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn numbers_round_trip(height in any::<u32>(), n in num(), sats in any::<u64>(), m in mutation()) {
        check(&height, &m)?;
        check(&n, &m)?;
        check(&Sats(sats), &m)?;
        check(&Empty, &m)?;
        check(&MetaKey, &m)?;
    }

    #[test]
    fn meta_and_stages_round_trip(
        meta in meta(),
        stage in stage(),
        cp in checkpoint(),
        sealed in (any::<u32>(), num(), num()),
        m in mutation(),
    ) {
        check(&meta, &m)?;
        check(&SealedKey, &m)?;
        check(&Sealed { blocks: sealed.0, txs: sealed.1, scripts: sealed.2 }, &m)?;
        check(&stage, &m)?;
        check(&cp, &m)?;
    }

    #[test]
    fn headers_and_txs_round_trip(
        header in header_row(),
        hash in hash(),
        tx in tx_row(),
        prefix in prefix_key(),
        m in mutation(),
    ) {
        check(&header, &m)?;
        check(&BlockHashKey(hash), &m)?;
        check(&tx, &m)?;
        check(&prefix, &m)?;
    }

    #[test]
    fn outputs_inputs_and_spends_round_trip(
        outputs in outputs_row(),
        inputs in inputs_row(),
        out in out_key(),
        spend in io_ref(),
        script in bytes(),
        m in mutation(),
    ) {
        check(&outputs, &m)?;
        check(&inputs, &m)?;
        check(&out, &m)?;
        check(&spend, &m)?;
        check(&ScriptBytes(script), &m)?;
    }

    #[test]
    fn inputs_resolve_only_to_earlier_transactions(inputs in inputs_row(), txnum in any::<u64>()) {
        match inputs.resolve(txnum) {
            Ok(resolved) => {
                prop_assert_eq!(resolved.len(), inputs.0.len());
                for (r, e) in resolved.iter().zip(&inputs.0) {
                    prop_assert!(r.prev.txnum < txnum);
                    prop_assert_eq!(r.prev.txnum + e.back, txnum);
                }
            }
            Err(_) => prop_assert!(inputs.0.iter().any(|e| e.back == 0 || e.back > txnum)),
        }
    }

    #[test]
    fn history_utxos_and_undo_round_trip(
        history in history_key(),
        utxo in utxo_key(),
        undo in block_undo(),
        m in mutation(),
    ) {
        check(&history, &m)?;
        check(&utxo, &m)?;
        check(&undo, &m)?;
    }

    #[test]
    fn cluster_rows_round_trip(
        pair in (num(), num()),
        row in cluster_row(),
        size in size_key(),
        link in link_row(),
        key in any::<[u8; 20]>(),
        state in cluster_state(),
        m in mutation(),
    ) {
        check(&ScriptPair(pair.0, pair.1), &m)?;
        check(&row, &m)?;
        check(&size, &m)?;
        check(&link, &m)?;
        check(&KeyHash(key), &m)?;
        check(&state, &m)?;
    }

    #[test]
    fn keys_sort_in_numeric_order(a in history_key(), b in history_key(), x in size_key(), y in size_key()) {
        prop_assert_eq!(a.encode().cmp(&b.encode()), a.cmp(&b));
        // Largest cluster first, then by root.
        prop_assert_eq!(x.encode().cmp(&y.encode()), y.size.cmp(&x.size).then(x.root.cmp(&y.root)));
    }
}
