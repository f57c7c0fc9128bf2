//! The real programs accept the generated configs: `haproxy -c`, `nginx -t`,
//! MariaDB parsing each MariaDB-flavor my.cnf, and `docker-compose config`
//! on every exported bundle. A missing program skips its check with a
//! message, unless `TOPOLAB_REQUIRE_TOOLS=1` (CI) makes that a failure.
//! Debian has no MySQL server, so MySQL-flavor output is covered by the
//! golden files.

mod support;

use std::path::Path;
use std::process::Command;

use support::{run, tool};
use topolab::export::write_bundle;
use topolab::generate::{Artifacts, Secrets, Settings, generate};
use topolab::model::{Flavor, Topology};
use topolab::preset::PRESETS;

/// Every preset's bundle, with fresh random secrets, for `flavor`.
fn bundles(flavor: Flavor) -> Vec<(Topology, Secrets, Artifacts)> {
    PRESETS
        .iter()
        .map(|p| {
            let t = p.topology().expect("valid preset");
            let secrets = Secrets::generate(&t.domain).expect("secrets");
            let mut settings = Settings::for_topology(&t);
            settings.flavor = flavor;
            let files = generate(&t, &settings, &secrets).expect("generates");
            (t, secrets, files)
        })
        .collect()
}

fn export_to(files: &Artifacts) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(files, &dir.path().join("bundle")).expect("export");
    dir
}

#[test]
fn haproxy_accepts_every_generated_config() {
    let Some(haproxy) = tool("haproxy") else {
        return;
    };
    let mut checked = 0;
    for (t, secrets, files) in bundles(Flavor::Mysql) {
        let dir = export_to(&files);
        let root = dir.path().join("bundle");
        for (lb_host, _) in t.load_balancers() {
            let cfg = root.join(format!("{}/haproxy.cfg", lb_host.name));
            let mut text = std::fs::read_to_string(&cfg).expect("config");
            if t.security.tls {
                // The certificate is mounted at an absolute path inside the
                // container; here it lives in the temp dir, with its key.
                let cert = root.join(format!("{}/tls/lab.pem", lb_host.name));
                std::fs::write(cert.with_extension("pem.key"), &secrets.tls_key_pem).expect("key");
                text = text.replace(
                    topolab::generate::paths::TLS_CERT,
                    &cert.display().to_string(),
                );
                std::fs::write(&cfg, &text).expect("config");
            }
            let (ok, out, err) = run(Command::new(&haproxy)
                .arg("-c")
                .arg("-f")
                .arg(&cfg)
                .env("TOPOLAB_STATS_PASSWORD", &secrets.stats_password));
            assert!(ok, "{}: haproxy -c failed:\n{out}\n{err}\n{text}", t.name);
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} configs checked");
}

#[test]
fn nginx_accepts_every_generated_config() {
    let Some(nginx) = tool("nginx") else { return };
    let mut checked = 0;
    for (t, _, files) in bundles(Flavor::Mysql) {
        let dir = export_to(&files);
        for h in t.hosts.iter().filter(|h| h.web_server().is_some()) {
            let cfg = dir.path().join(format!("bundle/{}/nginx.conf", h.name));
            let (ok, out, err) = run(Command::new(&nginx).arg("-t").arg("-c").arg(&cfg));
            assert!(ok, "{}/{}: nginx -t failed:\n{out}\n{err}", t.name, h.name);
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} configs checked");
}

/// MariaDB reads every option of the file (`--help --verbose` fails on an
/// unknown one and warns on a bad value) and takes the values we meant.
#[test]
fn mariadb_reads_every_mariadb_flavor_my_cnf() {
    let Some(mariadbd) = tool("mariadbd") else {
        return;
    };
    let mut checked = 0;
    for (t, _, files) in bundles(Flavor::Mariadb) {
        let dir = export_to(&files);
        for (h, db) in t.databases() {
            let cfg = dir.path().join(format!("bundle/{}/my.cnf", h.name));
            let (ok, out, err) = run(Command::new(&mariadbd)
                .arg(format!("--defaults-file={}", cfg.display()))
                .arg("--help")
                .arg("--verbose"));
            assert!(
                ok,
                "{}/{}: mariadbd rejected my.cnf:\n{err}",
                t.name, h.name
            );
            let complaints: Vec<&str> = err
                .lines()
                .filter(|l| l.contains("[ERROR]") || l.contains("[Warning] option"))
                .collect();
            assert!(
                complaints.is_empty(),
                "{}/{}: {complaints:?}",
                t.name,
                h.name
            );
            let value = |name: &str| {
                out.lines()
                    .find_map(|l| {
                        let mut words = l.split_whitespace();
                        (words.next() == Some(name)).then(|| words.next().map(str::to_owned))
                    })
                    .flatten()
                    .unwrap_or_default()
            };
            let replica = matches!(db.role, topolab::model::Role::Replica { .. });
            assert_eq!(value("read-only"), if replica { "TRUE" } else { "FALSE" });
            assert_eq!(value("gtid-strict-mode"), "TRUE");
            assert_eq!(value("log-bin"), "binlog");
            assert_ne!(value("server-id"), "");
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} configs checked");
}

#[test]
fn docker_compose_accepts_every_exported_bundle() {
    let Some(compose) = tool("docker-compose") else {
        return;
    };
    for (t, _, files) in bundles(Flavor::Mariadb) {
        let dir = export_to(&files);
        let root = dir.path().join("bundle");
        let (ok, out, err) = run(Command::new(&compose)
            .arg("config")
            .current_dir(&root)
            .env_remove("COMPOSE_PROJECT_NAME"));
        assert!(ok, "{}: docker-compose config failed:\n{err}", t.name);
        // Every host is a service, and every port is published on 127.0.0.1 only.
        for h in &t.hosts {
            assert!(
                out.contains(&format!("  {}:\n", h.name)),
                "{}: no service {}",
                t.name,
                h.name
            );
        }
        for l in out
            .lines()
            .filter(|l| l.trim_start().starts_with("- 127.") || l.contains("published"))
        {
            assert!(!l.contains("0.0.0.0"), "{}: {l}", t.name);
        }
        assert!(
            !out.contains("0.0.0.0:"),
            "{}: a port is published on every address",
            t.name
        );
        check_ids_unique(&root);
    }
}

/// Server ids are unique across a bundle's databases (replication needs it).
fn check_ids_unique(root: &Path) {
    let mut ids = Vec::new();
    for e in std::fs::read_dir(root).expect("bundle").flatten() {
        if let Ok(text) = std::fs::read_to_string(e.path().join("my.cnf")) {
            ids.extend(
                text.lines()
                    .filter(|l| l.starts_with("server-id"))
                    .map(str::to_owned),
            );
        }
    }
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate server ids in {}", root.display());
}
