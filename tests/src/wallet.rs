//! Deterministic keys, the script kinds the tests pay to, and local signing of spends of them.
//!
//! Every key is derived from a seed and an index, so a given seed always yields the same scripts in
//! the same order. ECDSA signatures use low-R grinding, exactly as Bitcoin Core does, so a
//! transaction signed here is byte-for-byte what `signrawtransactionwithkey` would produce.

use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::key::{Keypair, TapTweak};
use bitcoin::opcodes::all::OP_CHECKMULTISIG;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::secp256k1::{All, Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType};
use bitcoin::{
    absolute, ecdsa, taproot, transaction, Address, Amount, CompressedPublicKey, Network, OutPoint, PrivateKey,
    PublicKey, Script, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};

/// The kinds of output script the wallet can create and spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScriptKind {
    P2pkh,
    P2shP2wpkh,
    P2wpkh,
    /// 2-of-3 multisig inside P2WSH.
    P2wshMultisig,
    /// Taproot, spent by the key path.
    P2tr,
    /// A bare `1 <k1> <k2> 2 OP_CHECKMULTISIG` output script; it has no address.
    BareMultisig1of2,
    /// A bare `2 <k1> <k2> <k3> 3 OP_CHECKMULTISIG` output script; it has no address.
    BareMultisig2of3,
}

impl ScriptKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ScriptKind; 7] = [
        ScriptKind::P2pkh,
        ScriptKind::P2shP2wpkh,
        ScriptKind::P2wpkh,
        ScriptKind::P2wshMultisig,
        ScriptKind::P2tr,
        ScriptKind::BareMultisig1of2,
        ScriptKind::BareMultisig2of3,
    ];

    /// The kinds that have an address.
    pub const WITH_ADDRESS: [ScriptKind; 5] =
        [ScriptKind::P2pkh, ScriptKind::P2shP2wpkh, ScriptKind::P2wpkh, ScriptKind::P2wshMultisig, ScriptKind::P2tr];

    /// The name used in ground truth files (`p2pkh`, …, `bare_multisig`).
    pub fn name(self) -> &'static str {
        match self {
            ScriptKind::P2pkh => "p2pkh",
            ScriptKind::P2shP2wpkh => "p2sh_p2wpkh",
            ScriptKind::P2wpkh => "p2wpkh",
            ScriptKind::P2wshMultisig => "p2wsh_multisig",
            ScriptKind::P2tr => "p2tr",
            ScriptKind::BareMultisig1of2 | ScriptKind::BareMultisig2of3 => "bare_multisig",
        }
    }

    /// Whether outputs of this kind have an address.
    pub fn has_address(self) -> bool {
        !matches!(self, ScriptKind::BareMultisig1of2 | ScriptKind::BareMultisig2of3)
    }

    /// (required signatures, keys) of the script.
    fn multisig_shape(self) -> (usize, usize) {
        match self {
            ScriptKind::P2wshMultisig | ScriptKind::BareMultisig2of3 => (2, 3),
            ScriptKind::BareMultisig1of2 => (1, 2),
            _ => (1, 1),
        }
    }

    /// Virtual size in vbytes of one signed input spending this kind (72-byte low-R signatures).
    pub fn input_vsize(self) -> u64 {
        match self {
            ScriptKind::P2pkh => 148,
            ScriptKind::P2shP2wpkh => 91,
            ScriptKind::P2wpkh => 68,
            ScriptKind::P2wshMultisig => 105,
            ScriptKind::P2tr => 58,
            ScriptKind::BareMultisig1of2 => 115,
            ScriptKind::BareMultisig2of3 => 188,
        }
    }
}

/// A secret key with its compressed public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub secret: SecretKey,
    pub public: CompressedPublicKey,
}

impl Key {
    /// The key in the form `signrawtransactionwithkey` takes (WIF).
    pub fn private_key(&self, network: Network) -> PrivateKey {
        PrivateKey::new(self.secret, network)
    }
}

/// An output script the wallet holds the keys to, with what it takes to spend it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedScript {
    kind: ScriptKind,
    keys: Vec<Key>,
    script_pubkey: ScriptBuf,
    /// P2SH redeem script, P2WSH witness script, or the bare multisig script itself.
    inner: Option<ScriptBuf>,
}

impl OwnedScript {
    pub fn kind(&self) -> ScriptKind {
        self.kind
    }

    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    pub fn script_pubkey(&self) -> &ScriptBuf {
        &self.script_pubkey
    }

    /// The address, or `None` for bare multisig.
    pub fn address(&self, network: Network) -> Option<Address> {
        if !self.kind.has_address() {
            return None;
        }
        Address::from_script(&self.script_pubkey, network).ok()
    }

    /// The P2SH redeem script (for P2SH-P2WPKH: the P2WPKH program).
    pub fn redeem_script(&self) -> Option<&Script> {
        match self.kind {
            ScriptKind::P2shP2wpkh => self.inner.as_deref(),
            _ => None,
        }
    }

    /// The P2WSH witness script.
    pub fn witness_script(&self) -> Option<&Script> {
        match self.kind {
            ScriptKind::P2wshMultisig => self.inner.as_deref(),
            _ => None,
        }
    }

    /// A descriptor `scantxoutset` accepts: `addr(..)`, or `raw(..)` for bare multisig.
    pub fn scan_descriptor(&self, network: Network) -> String {
        match self.address(network) {
            Some(address) => format!("addr({address})"),
            None => format!("raw({})", hex::encode(self.script_pubkey.as_bytes())),
        }
    }
}

/// One output being spent, in the order of the transaction's inputs.
#[derive(Debug, Clone, Copy)]
pub struct Spent<'a> {
    pub script: &'a OwnedScript,
    pub value: Amount,
}

/// Why a transaction could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the transaction has {inputs} inputs but {spent} spent outputs were given")]
    InputCount { inputs: usize, spent: usize },
    #[error("cannot compute the signature hash of input {input}: {reason}")]
    Sighash { input: usize, reason: String },
}

/// Derives keys and scripts from a seed and signs spends of them.
pub struct Wallet {
    secp: Secp256k1<All>,
    seed: u64,
    next_index: u64,
    network: Network,
}

impl Wallet {
    /// A wallet whose n-th key depends only on `seed` and n.
    pub fn new(seed: u64, network: Network) -> Self {
        Wallet { secp: Secp256k1::new(), seed, next_index: 0, network }
    }

    pub fn network(&self) -> Network {
        self.network
    }

    pub fn secp(&self) -> &Secp256k1<All> {
        &self.secp
    }

    /// How many keys `new_key` has handed out.
    pub fn keys_used(&self) -> u64 {
        self.next_index
    }

    /// The key at `index`, without advancing the wallet.
    pub fn derive_key(&self, index: u64) -> Key {
        let mut round = 0u32;
        loop {
            let mut engine = sha256::Hash::engine();
            engine.input(b"chaintrail-test-wallet");
            engine.input(&self.seed.to_le_bytes());
            engine.input(&index.to_le_bytes());
            engine.input(&round.to_le_bytes());
            let digest = sha256::Hash::from_engine(engine);
            // A digest is a valid secret key unless it is zero or above the curve order.
            if let Ok(secret) = SecretKey::from_slice(digest.as_ref()) {
                let public = CompressedPublicKey(secret.public_key(&self.secp));
                return Key { secret, public };
            }
            round += 1;
        }
    }

    /// The next unused key.
    pub fn new_key(&mut self) -> Key {
        let key = self.derive_key(self.next_index);
        self.next_index += 1;
        key
    }

    /// A new script of `kind` built from fresh keys.
    pub fn new_script(&mut self, kind: ScriptKind) -> OwnedScript {
        let (_, total) = kind.multisig_shape();
        let keys: Vec<Key> = (0..total).map(|_| self.new_key()).collect();
        self.script_from_keys(kind, keys)
    }

    /// The script of `kind` over `keys` (1 key, or 2/3 for the multisig kinds).
    pub fn script_from_keys(&self, kind: ScriptKind, keys: Vec<Key>) -> OwnedScript {
        let (required, _) = kind.multisig_shape();
        let (script_pubkey, inner) = match kind {
            ScriptKind::P2pkh => (ScriptBuf::new_p2pkh(&keys[0].public.pubkey_hash()), None),
            ScriptKind::P2wpkh => (ScriptBuf::new_p2wpkh(&keys[0].public.wpubkey_hash()), None),
            ScriptKind::P2shP2wpkh => {
                let redeem = ScriptBuf::new_p2wpkh(&keys[0].public.wpubkey_hash());
                (ScriptBuf::new_p2sh(&redeem.script_hash()), Some(redeem))
            }
            ScriptKind::P2wshMultisig => {
                let witness_script = multisig_script(required, &keys);
                (ScriptBuf::new_p2wsh(&witness_script.wscript_hash()), Some(witness_script))
            }
            ScriptKind::P2tr => {
                let (internal, _) = keys[0].public.0.x_only_public_key();
                (ScriptBuf::new_p2tr(&self.secp, internal, None), None)
            }
            ScriptKind::BareMultisig1of2 | ScriptKind::BareMultisig2of3 => {
                let script = multisig_script(required, &keys);
                (script.clone(), Some(script))
            }
        };
        OwnedScript { kind, keys, script_pubkey, inner }
    }

    /// Signs every input of `tx` with SIGHASH_ALL (taproot: SIGHASH_DEFAULT); `spent[i]` is the
    /// output input `i` spends. Existing scriptSigs and witnesses are replaced.
    pub fn sign(&self, tx: &mut Transaction, spent: &[Spent<'_>]) -> Result<(), SignError> {
        if tx.input.len() != spent.len() {
            return Err(SignError::InputCount { inputs: tx.input.len(), spent: spent.len() });
        }
        let prevouts: Vec<TxOut> =
            spent.iter().map(|s| TxOut { value: s.value, script_pubkey: s.script.script_pubkey.clone() }).collect();
        let mut unlocks = Vec::with_capacity(spent.len());
        {
            let mut cache = SighashCache::new(&*tx);
            for (index, s) in spent.iter().enumerate() {
                unlocks.push(self.unlock(&mut cache, index, s, &prevouts)?);
            }
        }
        for (input, (script_sig, witness)) in tx.input.iter_mut().zip(unlocks) {
            input.script_sig = script_sig;
            input.witness = witness;
        }
        Ok(())
    }

    /// The scriptSig and witness that spend input `index`.
    fn unlock(
        &self,
        cache: &mut SighashCache<&Transaction>,
        index: usize,
        spent: &Spent<'_>,
        prevouts: &[TxOut],
    ) -> Result<(ScriptBuf, Witness), SignError> {
        let script = spent.script;
        let fail = |e: &dyn std::fmt::Display| SignError::Sighash { input: index, reason: e.to_string() };
        let all = EcdsaSighashType::All;
        match script.kind {
            ScriptKind::P2pkh | ScriptKind::BareMultisig1of2 | ScriptKind::BareMultisig2of3 => {
                let hash =
                    cache.legacy_signature_hash(index, &script.script_pubkey, all.to_u32()).map_err(|e| fail(&e))?;
                Ok((self.legacy_script_sig(script, Message::from(hash)), Witness::new()))
            }
            ScriptKind::P2wpkh | ScriptKind::P2shP2wpkh => {
                let program = ScriptBuf::new_p2wpkh(&script.keys[0].public.wpubkey_hash());
                let hash = cache.p2wpkh_signature_hash(index, &program, spent.value, all).map_err(|e| fail(&e))?;
                let sig = self.ecdsa(Message::from(hash), &script.keys[0]);
                let witness = Witness::p2wpkh(&sig, &script.keys[0].public.0);
                if script.kind == ScriptKind::P2wpkh {
                    return Ok((ScriptBuf::new(), witness));
                }
                let push = PushBytesBuf::try_from(program.into_bytes()).map_err(|e| fail(&e))?;
                Ok((Builder::new().push_slice(push).into_script(), witness))
            }
            ScriptKind::P2wshMultisig => {
                let witness_script = script.inner.as_deref().unwrap_or(Script::new());
                let hash = cache.p2wsh_signature_hash(index, witness_script, spent.value, all).map_err(|e| fail(&e))?;
                let mut witness = Witness::new();
                witness.push([]);
                for key in &script.keys[..2] {
                    witness.push(self.ecdsa(Message::from(hash), key).serialize());
                }
                witness.push(witness_script.as_bytes());
                Ok((ScriptBuf::new(), witness))
            }
            ScriptKind::P2tr => {
                let prevouts = Prevouts::All(prevouts);
                let hash = cache
                    .taproot_key_spend_signature_hash(index, &prevouts, TapSighashType::Default)
                    .map_err(|e| fail(&e))?;
                Ok((ScriptBuf::new(), self.key_path_witness(&script.keys[0], Message::from(hash))))
            }
        }
    }

    /// P2PKH: `<sig> <pubkey>`; bare multisig: `OP_0 <sig>...` (CHECKMULTISIG pops one extra item).
    fn legacy_script_sig(&self, script: &OwnedScript, msg: Message) -> ScriptBuf {
        if script.kind == ScriptKind::P2pkh {
            return Builder::new()
                .push_slice(self.ecdsa(msg, &script.keys[0]).serialize())
                .push_key(&PublicKey::from(script.keys[0].public))
                .into_script();
        }
        let (required, _) = script.kind.multisig_shape();
        let mut builder = Builder::new().push_int(0);
        for key in &script.keys[..required] {
            builder = builder.push_slice(self.ecdsa(msg, key).serialize());
        }
        builder.into_script()
    }

    /// Taproot key path: a Schnorr signature by the tweaked key, no aux randomness.
    fn key_path_witness(&self, key: &Key, msg: Message) -> Witness {
        let keypair = Keypair::from_secret_key(&self.secp, &key.secret);
        let tweaked = keypair.tap_tweak(&self.secp, None).to_keypair();
        let signature = self.secp.sign_schnorr_no_aux_rand(&msg, &tweaked);
        Witness::p2tr_key_spend(&taproot::Signature { signature, sighash_type: TapSighashType::Default })
    }

    fn ecdsa(&self, msg: Message, key: &Key) -> ecdsa::Signature {
        ecdsa::Signature {
            signature: self.secp.sign_ecdsa_low_r(&msg, &key.secret),
            sighash_type: EcdsaSighashType::All,
        }
    }
}

/// `required <keys...> n OP_CHECKMULTISIG`.
fn multisig_script(required: usize, keys: &[Key]) -> ScriptBuf {
    let mut builder = Builder::new().push_int(required as i64);
    for key in keys {
        builder = builder.push_key(&PublicKey::from(key.public));
    }
    builder.push_int(keys.len() as i64).push_opcode(OP_CHECKMULTISIG).into_script()
}

/// A version-2 transaction spending `inputs` (RBF-signalling, no lock time), not yet signed.
pub fn unsigned_tx(inputs: &[OutPoint], outputs: Vec<TxOut>) -> Transaction {
    Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: inputs
            .iter()
            .map(|previous_output| TxIn {
                previous_output: *previous_output,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            })
            .collect(),
        output: outputs,
    }
}

/// An `OP_RETURN <data>` output script.
pub fn op_return_script(data: &[u8]) -> ScriptBuf {
    match PushBytesBuf::try_from(data.to_vec()) {
        Ok(push) => ScriptBuf::new_op_return(push),
        Err(_) => ScriptBuf::new_op_return([]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::schnorr;
    use bitcoin::Txid;

    fn wallet() -> Wallet {
        Wallet::new(7, Network::Regtest)
    }

    fn spend_one(wallet: &Wallet, script: &OwnedScript, value: u64) -> Transaction {
        let outpoint = OutPoint { txid: Txid::from_byte_array([3; 32]), vout: 1 };
        let out = TxOut { value: Amount::from_sat(value - 500), script_pubkey: ScriptBuf::new() };
        let mut tx = unsigned_tx(&[outpoint], vec![out]);
        let spent = [Spent { script, value: Amount::from_sat(value) }];
        wallet.sign(&mut tx, &spent).expect("signing a well-formed spend");
        tx
    }

    #[test]
    fn same_seed_and_index_give_the_same_key_and_other_seeds_do_not() {
        let a = Wallet::new(1, Network::Regtest);
        let b = Wallet::new(1, Network::Regtest);
        let c = Wallet::new(2, Network::Regtest);
        assert_eq!(a.derive_key(5), b.derive_key(5));
        assert_ne!(a.derive_key(5), a.derive_key(6));
        assert_ne!(a.derive_key(5), c.derive_key(5));
    }

    #[test]
    fn new_script_uses_one_key_per_single_sig_and_three_for_two_of_three() {
        let mut w = wallet();
        assert_eq!(w.new_script(ScriptKind::P2wpkh).keys().len(), 1);
        assert_eq!(w.new_script(ScriptKind::P2wshMultisig).keys().len(), 3);
        assert_eq!(w.new_script(ScriptKind::BareMultisig1of2).keys().len(), 2);
        assert_eq!(w.keys_used(), 6);
    }

    #[test]
    fn each_kind_builds_the_expected_script_template_and_address_prefix() {
        let mut w = wallet();
        let net = Network::Regtest;
        let s = w.new_script(ScriptKind::P2pkh);
        assert!(s.script_pubkey().is_p2pkh());
        let addr = s.address(net).expect("p2pkh has an address").to_string();
        assert!(addr.starts_with('m') || addr.starts_with('n'), "{addr}");
        let s = w.new_script(ScriptKind::P2shP2wpkh);
        assert!(s.script_pubkey().is_p2sh());
        assert!(s.redeem_script().expect("redeem script").is_p2wpkh());
        assert!(s.address(net).expect("address").to_string().starts_with('2'));
        let s = w.new_script(ScriptKind::P2wpkh);
        assert_eq!(s.address(net).expect("address").to_string().len(), 44);
        let s = w.new_script(ScriptKind::P2wshMultisig);
        assert!(s.script_pubkey().is_p2wsh());
        assert_eq!(s.witness_script().expect("witness script").len(), 105);
        assert_eq!(s.address(net).expect("address").to_string().len(), 64);
        let s = w.new_script(ScriptKind::P2tr);
        assert!(s.address(net).expect("address").to_string().starts_with("bcrt1p"));
        let s = w.new_script(ScriptKind::BareMultisig2of3);
        assert!(s.script_pubkey().is_multisig());
        assert_eq!(s.address(net), None);
        assert!(s.scan_descriptor(net).starts_with("raw(5221"));
    }

    #[test]
    fn p2wpkh_signature_verifies_against_the_segwit_sighash_and_is_low_r() {
        let mut w = wallet();
        let script = w.new_script(ScriptKind::P2wpkh);
        let tx = spend_one(&w, &script, 10_000);
        let witness: Vec<&[u8]> = tx.input[0].witness.iter().collect();
        assert_eq!(witness.len(), 2);
        assert_eq!(witness[1], &script.keys()[0].public.to_bytes()[..]);
        assert!(witness[0].len() <= 72, "low-R signature is at most 72 bytes");
        let sig = ecdsa::Signature::from_slice(witness[0]).expect("DER signature");
        let hash = SighashCache::new(&tx)
            .p2wpkh_signature_hash(0, script.script_pubkey(), Amount::from_sat(10_000), sig.sighash_type)
            .expect("sighash");
        let ok = w.secp().verify_ecdsa(&Message::from(hash), &sig.signature, &script.keys()[0].public.0);
        assert!(ok.is_ok());
        assert!(tx.input[0].script_sig.is_empty());
    }

    #[test]
    fn p2tr_key_path_signature_verifies_against_the_tweaked_output_key() {
        let mut w = wallet();
        let script = w.new_script(ScriptKind::P2tr);
        let tx = spend_one(&w, &script, 20_000);
        let witness: Vec<&[u8]> = tx.input[0].witness.iter().collect();
        assert_eq!(witness.len(), 1);
        assert_eq!(witness[0].len(), 64, "SIGHASH_DEFAULT adds no sighash byte");
        let prevout = TxOut { value: Amount::from_sat(20_000), script_pubkey: script.script_pubkey().clone() };
        let hash = SighashCache::new(&tx)
            .taproot_key_spend_signature_hash(0, &Prevouts::All(&[prevout]), TapSighashType::Default)
            .expect("sighash");
        let output_key =
            bitcoin::key::XOnlyPublicKey::from_slice(&script.script_pubkey().as_bytes()[2..]).expect("x-only key");
        let sig = schnorr::Signature::from_slice(witness[0]).expect("schnorr signature");
        assert!(w.secp().verify_schnorr(&sig, &Message::from(hash), &output_key).is_ok());
    }

    #[test]
    fn multisig_spends_carry_the_dummy_element_and_the_required_signatures() {
        let mut w = wallet();
        let wsh = w.new_script(ScriptKind::P2wshMultisig);
        let tx = spend_one(&w, &wsh, 30_000);
        let witness: Vec<&[u8]> = tx.input[0].witness.iter().collect();
        assert_eq!(witness.len(), 4);
        assert!(witness[0].is_empty());
        assert_eq!(witness[3], wsh.witness_script().expect("witness script").as_bytes());
        let bare = w.new_script(ScriptKind::BareMultisig1of2);
        let tx = spend_one(&w, &bare, 30_000);
        let pushes: Vec<_> = tx.input[0].script_sig.instructions().collect();
        assert_eq!(pushes.len(), 2, "OP_0 and one signature");
        assert_eq!(tx.input[0].script_sig.as_bytes()[0], 0x00);
        assert!(tx.input[0].witness.is_empty());
    }

    #[test]
    fn p2sh_p2wpkh_script_sig_pushes_exactly_the_redeem_script() {
        let mut w = wallet();
        let script = w.new_script(ScriptKind::P2shP2wpkh);
        let tx = spend_one(&w, &script, 40_000);
        let redeem = script.redeem_script().expect("redeem script");
        let mut expected = vec![redeem.len() as u8];
        expected.extend_from_slice(redeem.as_bytes());
        assert_eq!(tx.input[0].script_sig.as_bytes(), &expected[..]);
        assert_eq!(tx.input[0].witness.len(), 2);
    }

    #[test]
    fn signing_with_the_wrong_number_of_spent_outputs_is_an_error() {
        let mut w = wallet();
        let script = w.new_script(ScriptKind::P2pkh);
        let mut tx = unsigned_tx(&[OutPoint::null(), OutPoint::null()], vec![]);
        let spent = [Spent { script: &script, value: Amount::from_sat(1) }];
        let err = w.sign(&mut tx, &spent).expect_err("two inputs, one spent output");
        assert!(matches!(err, SignError::InputCount { inputs: 2, spent: 1 }));
    }
}
