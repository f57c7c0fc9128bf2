//! Per-lab secrets: random passwords, the admin token and the TLS
//! certificate. Generated files refer to them by name (`@TOPOLAB_…@`
//! placeholders) or read them from files under `/run/secrets`; only the
//! bundle's `secrets/` folder and the lab's state hold the values. No
//! secret travels in a container's environment, where `docker inspect`
//! would show it.

use std::fmt;

use rand::Rng;
use rand::distr::Alphanumeric;

/// The secrets of one lab. Its `Debug` never prints a value.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Secrets {
    /// Password of the databases' `root@localhost`.
    pub db_root_password: String,
    /// Password of the app's database user (`app`).
    pub app_password: String,
    /// Password of the replication user (`repl`).
    pub replication_password: String,
    /// Password of the monitoring user (`monitor`).
    pub monitor_password: String,
    /// Password of HAProxy's stats page (user `admin`).
    pub stats_password: String,
    /// Token the app servers' admin endpoint requires.
    pub admin_token: String,
    /// The lab's self-signed certificate, PEM.
    pub tls_cert_pem: String,
    /// Its private key, PEM.
    pub tls_key_pem: String,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

/// One secret, as the file a container reads it from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(test, derive(strum::EnumIter))]
pub enum Secret {
    /// The databases' `root@localhost` password.
    DbRootPassword,
    /// The app's database password.
    AppPassword,
    /// The replication user's password.
    ReplicationPassword,
    /// The monitoring user's password.
    MonitorPassword,
    /// HAProxy's stats page password.
    StatsPassword,
    /// The app servers' admin token.
    AdminToken,
    /// The TLS certificate's private key.
    TlsKey,
}

impl Secret {
    /// Every secret.
    pub const ALL: [Self; 7] = [
        Self::DbRootPassword,
        Self::AppPassword,
        Self::ReplicationPassword,
        Self::MonitorPassword,
        Self::StatsPassword,
        Self::AdminToken,
        Self::TlsKey,
    ];

    /// Its file name: under `/run/secrets/` in a container, under
    /// `secrets/` in an exported bundle, and its name in the compose file.
    pub fn name(self) -> &'static str {
        match self {
            Self::DbRootPassword => "db_root_password",
            Self::AppPassword => "app_password",
            Self::ReplicationPassword => "replication_password",
            Self::MonitorPassword => "monitor_password",
            Self::StatsPassword => "stats_password",
            Self::AdminToken => "admin_token",
            Self::TlsKey => "tls_key",
        }
    }

    /// Where a container finds it. HAProxy loads a certificate's key from
    /// the file beside it named `.key`, so the TLS key lives there.
    pub fn path(self) -> String {
        match self {
            Self::TlsKey => format!("{}.key", super::paths::TLS_CERT),
            other => format!("{}/{}", super::paths::SECRETS_DIR, other.name()),
        }
    }

    /// Its `@NAME@` placeholder in generated templates (bootstrap SQL).
    pub fn placeholder(self) -> &'static str {
        match self {
            Self::DbRootPassword => "@TOPOLAB_DB_ROOT_PASSWORD@",
            Self::AppPassword => "@TOPOLAB_APP_PASSWORD@",
            Self::ReplicationPassword => "@TOPOLAB_REPLICATION_PASSWORD@",
            Self::MonitorPassword => "@TOPOLAB_MONITOR_PASSWORD@",
            Self::StatsPassword => "@TOPOLAB_STATS_PASSWORD@",
            Self::AdminToken => "@TOPOLAB_ADMIN_TOKEN@",
            Self::TlsKey => "@TOPOLAB_TLS_KEY@",
        }
    }
}

/// Why secrets could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the lab's TLS certificate: {0}")]
pub struct SecretsError(#[from] rcgen::Error);

fn password() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

impl Secrets {
    /// Fresh random secrets, with a certificate for `domain`, `localhost`
    /// and 127.0.0.1.
    pub fn generate(domain: &str) -> Result<Self, SecretsError> {
        let names = vec![
            domain.to_owned(),
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ];
        let cert = rcgen::generate_simple_self_signed(names)?;
        Ok(Self {
            db_root_password: password(),
            app_password: password(),
            replication_password: password(),
            monitor_password: password(),
            stats_password: password(),
            admin_token: password(),
            tls_cert_pem: cert.cert.pem(),
            tls_key_pem: cert.signing_key.serialize_pem(),
        })
    }

    /// The value of `secret`.
    pub fn get(&self, secret: Secret) -> &str {
        match secret {
            Secret::DbRootPassword => &self.db_root_password,
            Secret::AppPassword => &self.app_password,
            Secret::ReplicationPassword => &self.replication_password,
            Secret::MonitorPassword => &self.monitor_password,
            Secret::StatsPassword => &self.stats_password,
            Secret::AdminToken => &self.admin_token,
            Secret::TlsKey => &self.tls_key_pem,
        }
    }

    /// Every secret with its value, in a fixed order.
    pub fn all(&self) -> impl Iterator<Item = (Secret, &str)> {
        Secret::ALL.into_iter().map(|s| (s, self.get(s)))
    }

    /// `text` with every `@NAME@` placeholder replaced by its value.
    pub fn fill(&self, text: &str) -> String {
        self.all().fold(text.to_owned(), |acc, (secret, value)| {
            acc.replace(secret.placeholder(), value)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_secret() {
        use strum::IntoEnumIterator;
        assert_eq!(Secret::iter().collect::<Vec<_>>(), Secret::ALL.to_vec());
    }

    #[test]
    fn secrets_are_random_and_never_debug_printed() {
        let a = Secrets::generate("www.foobar.com").expect("secrets");
        let b = Secrets::generate("www.foobar.com").expect("secrets");
        assert_ne!(a.app_password, b.app_password);
        assert_ne!(a.tls_key_pem, b.tls_key_pem);
        assert_eq!(a.app_password.len(), 24);
        assert!(!format!("{a:?}").contains(&a.app_password));
        assert!(a.tls_cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let filled = a.fill("IDENTIFIED BY '@TOPOLAB_APP_PASSWORD@'");
        assert_eq!(filled, format!("IDENTIFIED BY '{}'", a.app_password));
    }
}
