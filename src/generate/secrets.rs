//! Per-lab secrets: random passwords, the admin token and the TLS
//! certificate. Generated files refer to them by name (`@TOPOLAB_…@`
//! placeholders and environment variables); only `.env` and the lab's state
//! hold the values.

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

    /// Each secret's environment variable name and value, in a fixed order.
    /// The TLS key travels base64-encoded (`.env` values are one line).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        use base64::Engine;
        vec![
            ("TOPOLAB_DB_ROOT_PASSWORD", self.db_root_password.clone()),
            ("TOPOLAB_APP_PASSWORD", self.app_password.clone()),
            (
                "TOPOLAB_REPLICATION_PASSWORD",
                self.replication_password.clone(),
            ),
            ("TOPOLAB_MONITOR_PASSWORD", self.monitor_password.clone()),
            ("TOPOLAB_STATS_PASSWORD", self.stats_password.clone()),
            ("TOPOLAB_ADMIN_TOKEN", self.admin_token.clone()),
            (
                "TOPOLAB_TLS_KEY_B64",
                base64::engine::general_purpose::STANDARD.encode(&self.tls_key_pem),
            ),
        ]
    }

    /// `text` with every `@NAME@` placeholder of [`Secrets::env`] replaced
    /// by its value.
    pub fn fill(&self, text: &str) -> String {
        self.env()
            .into_iter()
            .fold(text.to_owned(), |acc, (name, value)| {
                acc.replace(&format!("@{name}@"), &value)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
