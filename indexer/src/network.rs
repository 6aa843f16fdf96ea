//! The chains Bitcoin Core runs: their names, ports, data directories and genesis blocks.

use bitcoin::hashes::Hash;

/// Bitcoin Core's name for a chain: what `getblockchaininfo` reports and config files use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    #[value(alias = "mainnet", alias = "bitcoin")]
    #[serde(alias = "mainnet", alias = "bitcoin")]
    Main,
    #[value(alias = "testnet", alias = "testnet3")]
    #[serde(alias = "testnet", alias = "testnet3")]
    Test,
    Testnet4,
    Signet,
    Regtest,
}

impl Network {
    pub fn core_name(self) -> &'static str {
        match self {
            Network::Main => "main",
            Network::Test => "test",
            Network::Testnet4 => "testnet4",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
        }
    }

    pub fn from_core_name(name: &str) -> Option<Network> {
        [Network::Main, Network::Test, Network::Testnet4, Network::Signet, Network::Regtest]
            .into_iter()
            .find(|n| n.core_name() == name)
    }

    /// Bitcoin Core's default RPC port.
    pub fn default_rpc_port(self) -> u16 {
        match self {
            Network::Main => 8332,
            Network::Test => 18332,
            Network::Testnet4 => 48332,
            Network::Signet => 38332,
            Network::Regtest => 18443,
        }
    }

    /// Sub-directory of Bitcoin Core's data directory for this chain.
    pub fn datadir_subdir(self) -> &'static str {
        match self {
            Network::Main => "",
            Network::Test => "testnet3",
            Network::Testnet4 => "testnet4",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
        }
    }

    /// The `bitcoin` crate's network, for address encoding.
    pub fn bitcoin(self) -> bitcoin::Network {
        match self {
            Network::Main => bitcoin::Network::Bitcoin,
            Network::Test => bitcoin::Network::Testnet,
            Network::Testnet4 => bitcoin::Network::Testnet4,
            Network::Signet => bitcoin::Network::Signet,
            Network::Regtest => bitcoin::Network::Regtest,
        }
    }

    /// Genesis block hash, as stored in the database (internal byte order).
    pub fn genesis(self) -> [u8; 32] {
        bitcoin::constants::genesis_block(self.bitcoin()).block_hash().to_byte_array()
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.core_name())
    }
}
