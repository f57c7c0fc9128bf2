//! End-to-end: DNS in a real lab (PowerDNS in the local image profile).
//! The lab's DNS servers answer for the site's name with the entry
//! points; a health-checked record drops a dead load balancer; the
//! traffic generator finds the site through them and keeps its answer for
//! the TTL; a running lab takes new records and a new DNS server. The DNS
//! lessons (a dead load balancer, a DNS outage) run in `e2e_scenarios`.
//! Skipped with a message when no engine is reachable, unless
//! `TOPOLAB_E2E=require` (CI).

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::lab::{Background, Lab, dns_answer, docker, eventually, failed};
use topolab::lab::state::LabState;
use topolab::model::{FixAction, Topology};

fn state(lab: &Lab) -> LabState {
    serde_json::from_value(lab.state()).expect("lab state")
}

fn answer(state: &LabState, host: &str) -> Option<(BTreeSet<String>, u32)> {
    dns_answer(state, host)
}

fn set(hosts: &[&str]) -> BTreeSet<String> {
    hosts.iter().map(|h| (*h).to_owned()).collect()
}

/// Both DNS servers answer with both load balancers and the design's TTL;
/// killing lb-01 takes it out of every answer (PowerDNS's own health
/// check), healing it brings it back. Traffic through DNS meanwhile uses
/// both entry points and loses nothing: a client whose cached answer still
/// names the dead one is refused before sending and tries the next address.
#[test]
fn health_checked_records_follow_the_load_balancers() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("dns", "e2e-dns-records");
    assert!(
        lab.stdout.contains("dns 127.0.0.1:"),
        "up names the DNS servers:\n{}",
        lab.stdout
    );
    let st = state(&lab);
    assert_eq!(st.dns_servers.len(), 2);
    for dns in ["dns-01", "dns-02"] {
        assert_eq!(
            answer(&st, dns),
            Some((set(&["lb-01", "lb-02"]), 2)),
            "{dns}"
        );
    }
    let traffic = Background::start(&st, 100.0, 10, 600.0);
    std::thread::sleep(Duration::from_secs(2));
    lab.cli_exits(0, &["fault", &lab.name, "lb-01/lb", "kill"]);
    // Each server runs its own health check on its own clock, so one may
    // drop lb-01 up to a check interval after the other.
    for dns in ["dns-01", "dns-02"] {
        let dropped = eventually(Duration::from_secs(10), || {
            (answer(&st, dns)?.0 == set(&["lb-02"])).then_some(())
        });
        assert!(
            dropped.is_some(),
            "{dns} still names lb-01: {:?}",
            answer(&st, dns)
        );
    }
    // Every client's cached answer has expired by now (TTL 2 s).
    std::thread::sleep(Duration::from_secs(3));
    let after_ttl = topolab::live::now();
    lab.cli_exits(0, &["heal", &lab.name, "lb-01/lb"]);
    let back = eventually(Duration::from_secs(10), || {
        (answer(&st, "dns-01")?.0 == set(&["lb-01", "lb-02"])).then_some(())
    });
    assert!(back.is_some(), "lb-01 is not named again");
    std::thread::sleep(Duration::from_secs(3));
    let (_, traces) = traffic.stop();
    let bad = failed(&traces);
    // A request in flight on lb-01 when it was killed may fail; nothing else.
    assert!(bad.len() <= 3, "{} failed: {bad:?}", bad.len());
    let entries = |from: u64, to: u64| -> BTreeSet<String> {
        traces
            .iter()
            .filter(|t| t.at >= from && t.at < to && t.ok())
            .map(|t| t.entry.to_string())
            .collect()
    };
    let first = traces.first().map_or(0, |t| t.at);
    assert_eq!(entries(first, first + 1500), set(&["lb-01", "lb-02"]));
    assert_eq!(
        entries(after_ttl - 1000, after_ttl),
        set(&["lb-02"]),
        "once the answers expired, every request went to lb-02"
    );
    let last = traces.last().map_or(0, |t| t.at);
    assert_eq!(entries(last - 1500, last + 1), set(&["lb-01", "lb-02"]));
}

/// With plain records and both DNS servers down, clients go on with their
/// cached answer, then every request fails before it is sent, saying the
/// name could not be resolved.
#[test]
fn a_dns_outage_outlives_cached_answers_only() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("dns", "e2e-dns-outage");
    let st = state(&lab);
    let traffic = Background::start(&st, 50.0, 0, 600.0);
    std::thread::sleep(Duration::from_secs(2));
    let killed = topolab::live::now();
    lab.cli_exits(0, &["fault", &lab.name, "dns-01/dns", "kill"]);
    lab.cli_exits(0, &["fault", &lab.name, "dns-02/dns", "kill"]);
    std::thread::sleep(Duration::from_secs(5));
    let (_, traces) = traffic.stop();
    let after: Vec<_> = traces.iter().filter(|t| t.at >= killed).collect();
    let last_ok = after
        .iter()
        .filter(|t| t.ok())
        .map(|t| t.at)
        .max()
        .expect("requests went on from the cached answer");
    assert!(
        last_ok - killed <= 2_000 + 500,
        "served {} ms after the outage, beyond the TTL (2 s)",
        last_ok - killed
    );
    let unresolved: Vec<_> = after.iter().filter(|t| !t.ok()).collect();
    assert!(unresolved.len() > 50, "{} failed", unresolved.len());
    for t in &unresolved {
        let e = t.error.as_deref().unwrap_or_default();
        assert!(
            e.starts_with("DNS: no answer for www.foobar.com from dns-01, dns-02"),
            "{e}"
        );
        assert!(!t.delivered, "never sent");
    }
}

fn design_file(dir: &tempfile::TempDir, name: &str, t: &Topology) -> String {
    let path = dir.path().join(format!("{name}.ron"));
    std::fs::write(&path, topolab::preset::to_ron(t).expect("ron")).expect("write");
    path.display().to_string()
}

/// A running lab takes a new TTL and a third DNS server without a
/// restart: the servers answer with the new TTL at once, the new server
/// answers like the others, and its port is recorded.
#[test]
fn a_running_lab_takes_new_records_and_a_new_dns_server() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("dns", "e2e-dns-apply");
    let dir = tempfile::tempdir().expect("dir");
    let mut edited = state(&lab).topology;
    edited.dns.ttl_s = 30;
    assert!(FixAction::AddDnsServer.apply(&mut edited));
    let file = design_file(&dir, "edited", &edited);
    let out = lab.cli_exits(0, &["apply", &lab.name, &file]);
    assert!(out.contains("TTL 2 s → 30 s"), "{out}");
    assert!(out.contains("add host dns-03"), "{out}");
    let st = state(&lab);
    assert_eq!(st.dns_servers.len(), 3, "{:?}", st.dns_servers);
    for dns in ["dns-01", "dns-02", "dns-03"] {
        assert_eq!(
            answer(&st, dns),
            Some((set(&["lb-01", "lb-02"]), 30)),
            "{dns}"
        );
    }
}
