//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod kube;
pub mod lab;
pub mod stub;
pub mod swarm;

use std::path::PathBuf;
use std::process::Command;

use topolab::generate::Secrets;
use topolab::model::{Topology, validate};

/// Fixed secrets for golden files: never used by a real lab.
pub fn fixed_secrets() -> Secrets {
    Secrets {
        db_root_password: "golden-root-password".to_owned(),
        app_password: "golden-app-password".to_owned(),
        replication_password: "golden-replication-password".to_owned(),
        monitor_password: "golden-monitor-password".to_owned(),
        stats_password: "golden-stats-password".to_owned(),
        admin_token: "golden-admin-token".to_owned(),
        tls_cert_pem: "-----BEGIN CERTIFICATE-----\ngolden\n-----END CERTIFICATE-----\n".to_owned(),
        tls_key_pem: "-----BEGIN PRIVATE KEY-----\ngolden\n-----END PRIVATE KEY-----\n".to_owned(),
    }
}

/// The path of `program` on PATH (or in /usr/sbin), or `None` after saying
/// why the test is skipped. With `TOPOLAB_REQUIRE_TOOLS=1` (set by CI) a
/// missing program fails the test instead.
pub fn tool(program: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file());
    if found.is_none() {
        let required = std::env::var("TOPOLAB_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{program} is not installed and TOPOLAB_REQUIRE_TOOLS=1 (run .ci/run, which installs it)"
        );
        eprintln!("SKIP: {program} is not installed; this check did not run");
    }
    found
}

/// Runs `cmd`, returning (success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("the program starts");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The topolab binary built for these tests.
pub fn topolab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_topolab"))
}

/// The preset named `name`, parsed.
pub fn preset(name: &str) -> Topology {
    topolab::preset::Preset::find(name)
        .expect("preset exists")
        .topology()
        .expect("preset is valid")
}

/// `t`'s validation problems, as printed.
pub fn problems(t: &Topology) -> Vec<String> {
    validate(t).iter().map(ToString::to_string).collect()
}
