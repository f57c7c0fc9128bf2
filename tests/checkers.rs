//! The real programs accept the generated configs: `haproxy -c`, `nginx -t`,
//! MariaDB parsing each MariaDB-flavor my.cnf, PowerDNS's `pdnsutil
//! check-zone` on each DNS server's zone, `keepalived -t` and `bash -n`
//! on each member of a virtual IP, and `docker-compose config` on every
//! exported bundle. A missing program skips its check with a
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
    let mut nat_checked = 0;
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
        // The forwarder of the virtual IPs' published ports.
        let nat = root.join("nat/haproxy.cfg");
        if !t.vips().is_empty() {
            let (ok, out, err) = run(Command::new(&haproxy).arg("-c").arg("-f").arg(&nat));
            assert!(ok, "{}: haproxy -c nat failed:\n{out}\n{err}", t.name);
            nat_checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} configs checked");
    assert!(nat_checked >= 2, "only {nat_checked} nat configs checked");
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

/// The DNS designs checked by PowerDNS: every preset with a DNS server,
/// with plain records too, and with the site's name at its zone's apex.
fn dns_designs() -> Vec<Topology> {
    let mut out = Vec::new();
    for p in PRESETS {
        let t = p.topology().expect("valid preset");
        if t.dns_servers().next().is_none() {
            continue;
        }
        let mut plain = t.clone();
        plain.dns.health_checked = false;
        plain.dns.ttl_s = 300;
        let mut apex = t.clone();
        apex.domain = "foobar.com".to_owned();
        out.extend([t, plain, apex]);
    }
    out
}

/// keepalived's own check (`-t`) accepts the configuration of every
/// member of a virtual IP, and bash parses the check it watches; the
/// members agree on the address and the router id, peer with each other
/// and the first has the highest priority.
#[test]
fn keepalived_accepts_every_generated_vrrp_config() {
    let (Some(keepalived), Some(bash)) = (tool("keepalived"), tool("bash")) else {
        return;
    };
    let mut checked = 0;
    for (t, _, files) in bundles(Flavor::Mysql) {
        let dir = export_to(&files);
        let root = dir.path().join("bundle");
        for vip in t.vips() {
            let mut priorities = Vec::new();
            for member in &vip.members {
                let conf = root.join(format!("{member}/keepalived.conf"));
                let (ok, out, err) = run(Command::new(&keepalived).arg("-t").arg("-f").arg(&conf));
                let text = std::fs::read_to_string(&conf).expect("config");
                assert!(
                    ok,
                    "{}: keepalived -t refused {member}'s config:\n{out}\n{err}\n{text}",
                    t.name
                );
                let value = |key: &str| -> String {
                    text.lines()
                        .find_map(|l| l.trim().strip_prefix(key))
                        .unwrap_or_default()
                        .trim()
                        .to_owned()
                };
                assert_eq!(value("virtual_router_id "), vip.number.to_string());
                assert!(
                    text.contains(&format!(".{}/24 dev eth0", vip.number)),
                    "{text}"
                );
                let peers = text.split("unicast_peer {").nth(1).unwrap_or_default();
                let peers = peers
                    .split('}')
                    .next()
                    .unwrap_or_default()
                    .split_whitespace()
                    .count();
                assert_eq!(
                    peers,
                    vip.members.len() - 1,
                    "{member} peers with the others"
                );
                priorities.push(value("priority ").parse::<u8>().expect("a priority"));
                let script = root.join(format!("{member}/vrrp-check.sh"));
                let (ok, _, err) = run(Command::new(&bash).arg("-n").arg(&script));
                assert!(ok, "{}: bash -n refused {member}'s check: {err}", t.name);
                checked += 1;
            }
            let mut sorted = priorities.clone();
            sorted.sort_by(|a, b| b.cmp(a));
            sorted.dedup();
            assert_eq!(
                sorted, priorities,
                "{}: priorities fall in the design's order",
                t.name
            );
        }
    }
    assert!(checked >= 2, "only {checked} configs checked");
}

#[test]
fn powerdns_accepts_every_generated_zone() {
    let Some(pdnsutil) = tool("pdnsutil") else {
        return;
    };
    let mut checked = 0;
    for t in dns_designs() {
        let secrets = Secrets::generate(&t.domain).expect("secrets");
        let files = generate(&t, &Settings::for_topology(&t), &secrets).expect("generates");
        let dir = export_to(&files);
        let root = dir.path().join("bundle");
        let (zone, label) = topolab::generate::dns::zone_of(&t.domain);
        for (h, _) in t.dns_servers() {
            // The files name where the container mounts them; here they
            // are in the bundle.
            let host_dir = root.join(h.name.as_str());
            for name in ["pdns.conf", "named.conf"] {
                let path = host_dir.join(name);
                let text = std::fs::read_to_string(&path).expect("file");
                let text = text.replace(
                    topolab::generate::paths::CONFIG_DIR,
                    &host_dir.display().to_string(),
                );
                std::fs::write(&path, text).expect("file");
            }
            let (ok, out, err) = run(Command::new(&pdnsutil)
                .arg(format!("--config-dir={}", host_dir.display()))
                .args(["check-zone", &zone]));
            let text = std::fs::read_to_string(host_dir.join("zone")).expect("zone");
            assert!(
                ok && out.contains("0 errors"),
                "{}: pdnsutil check-zone failed:\n{out}\n{err}\n{text}",
                t.name
            );
            // The records name every entry point: as plain A records, or
            // inside the health-checked record.
            let (ok, listed, err) = run(Command::new(&pdnsutil)
                .arg(format!("--config-dir={}", host_dir.display()))
                .args(["list-zone", &zone]));
            assert!(ok, "{}: pdnsutil list-zone failed: {err}", t.name);
            let name = if label == "@" {
                format!("{zone}\t")
            } else {
                format!("{label}.{zone}\t")
            };
            let site: Vec<&str> = listed
                .lines()
                .filter(|l| l.starts_with(&name) && !l.contains("\tSOA\t") && !l.contains("\tNS\t"))
                .collect();
            let kind = if t.dns.health_checked {
                "\tLUA\t"
            } else {
                "\tA\t"
            };
            assert!(
                site.iter().all(|l| l.contains(kind)) && !site.is_empty(),
                "{}: {name} is not {kind:?} records:\n{listed}",
                t.name
            );
            let expected = if t.dns.health_checked {
                1
            } else {
                t.client_entries().len()
            };
            assert_eq!(site.len(), expected, "{}:\n{listed}", t.name);
            assert!(
                site.iter()
                    .all(|l| l.contains(&format!("\t{}\t", t.dns.ttl_s))),
                "{}: the TTL is not {}:\n{listed}",
                t.name,
                t.dns.ttl_s
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} zones checked");
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

/// Valid designs at the edges of what `validate()` accepts: names next to
/// those YAML reads as numbers, booleans or dates, the longest names, the
/// highest published port, every option on, the most hosts.
fn edge_designs() -> Vec<Topology> {
    use topolab::model::{Backend, Component, ComponentKind, Host, LoadBalancer};
    let server = |name: &str| {
        Host::new(name).with([
            Component::with_defaults(ComponentKind::Nginx),
            Component::with_defaults(ComponentKind::App),
        ])
    };
    let mut near_yaml = Topology::new("near-yaml");
    let names = [
        "h123",
        "0x",
        "0xg",
        "0b2",
        "1e",
        "e1",
        "1e3e",
        "nan",
        "inf",
        "yess",
        "nulls",
        "no-",
        "2001-12",
        "2001-12-14x",
        "o-n",
        "true1",
        "x-lb-db",
        "exporter",
        "binlog-reader",
    ];
    let names: Vec<&str> = names.into_iter().filter(|n| !n.ends_with('-')).collect();
    near_yaml
        .hosts
        .push(Host::new("lb").with([Component::Lb(LoadBalancer {
            backends: names.iter().map(|n| Backend::new(*n)).collect(),
            ..LoadBalancer::default()
        })]));
    for n in &names {
        near_yaml.hosts.push(server(n));
    }
    near_yaml
        .hosts
        .push(Host::new("db").with([Component::with_defaults(ComponentKind::Db)]));

    let mut longest = Topology::new("l".repeat(63));
    let long = "w".repeat(63);
    longest.domain = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61)
    );
    longest
        .hosts
        .push(server(&long).with([Component::with_defaults(ComponentKind::Db)]));

    let mut ports = Topology::new("ports");
    ports.security.tls = true;
    ports.security.segmentation = true;
    ports.monitoring.enabled = true;
    for (name, pinned) in [("lb-01", Some(65_435)), ("lb-02", None), ("lb-03", Some(1))] {
        ports
            .hosts
            .push(Host::new(name).with([Component::Lb(LoadBalancer {
                backends: vec![Backend::new("web-01")],
                published_port: pinned,
                stats: true,
                ..LoadBalancer::default()
            })]));
    }
    ports
        .hosts
        .push(server("web-01").with([Component::with_defaults(ComponentKind::Db)]));

    let mut most = topolab::ui::generated_topology(topolab::model::MAX_HOSTS);
    most.security.tls = true;
    most.security.segmentation = true;
    most.monitoring.enabled = true;
    vec![near_yaml, longest, ports, most]
}

#[test]
fn docker_compose_accepts_the_bundles_of_edge_designs() {
    let designs = edge_designs();
    for t in &designs {
        assert_eq!(
            topolab::model::validate(t),
            vec![],
            "{} is not valid",
            t.name
        );
    }
    let Some(compose) = tool("docker-compose") else {
        return;
    };
    for t in designs {
        let secrets = Secrets::generate(&t.domain).expect("secrets");
        let mut settings = Settings::for_topology(&t);
        settings.flavor = Flavor::Mariadb;
        let files = generate(&t, &settings, &secrets).expect("generates");
        let dir = export_to(&files);
        let root = dir.path().join("bundle");
        let (ok, out, err) = run(Command::new(&compose)
            .arg("config")
            .current_dir(&root)
            .env_remove("COMPOSE_PROJECT_NAME"));
        assert!(ok, "{}: docker-compose config failed:\n{err}", t.name);
        for h in &t.hosts {
            assert!(
                out.contains(&format!("  {}:\n", h.name)),
                "{}: no service {}",
                t.name,
                h.name
            );
        }
    }
}
