//! End-to-end: a virtual IP shared by two load balancers (keepalived,
//! VRRP) in a real lab. The address answers from lb-01 while it serves;
//! killing lb-01's HAProxy, or the whole host, moves it to lb-02 while the
//! traffic generator keeps sending to the address, and healing brings it
//! back. Skipped with a message when no engine is reachable, unless
//! `TOPOLAB_E2E=require` (CI).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::lab::{Background, Lab, RT, docker, eventually, failed};
use topolab::lab::state::LabState;
use topolab::live::RequestTrace;
use topolab::model::HostName;

fn state(lab: &Lab) -> LabState {
    serde_json::from_value(lab.state()).expect("lab state")
}

/// The virtual IP's address in the lab.
fn vip_address(st: &LabState) -> SocketAddr {
    let vips = topolab::lab::plan::vip_addresses(&st.topology, &st.addresses());
    assert_eq!(vips.len(), 1, "the vip preset has one virtual IP");
    let (vip, address) = &vips[0];
    assert_eq!(
        vip.members,
        [HostName::new("lb-01"), HostName::new("lb-02")]
    );
    SocketAddr::from((*address, vip.port))
}

/// The virtual IP's published port on this machine (the lab's `nat`
/// forwards it to the address).
fn published(st: &LabState) -> SocketAddr {
    assert_eq!(st.vip_ports.len(), 1, "one virtual IP, one published port");
    SocketAddr::from(([127, 0, 0, 1], st.vip_ports[0].http))
}

/// The member that answers at the address now.
fn holder(addr: SocketAddr) -> Option<String> {
    RT.block_on(topolab::lab::vip::holder(addr))
        .ok()
        .map(|h| h.to_string())
}

/// The load balancers that answered the requests sent in `[from, to)`.
fn answered_by(traces: &[RequestTrace], from: u64, to: u64) -> Vec<String> {
    let mut lbs: Vec<String> = traces
        .iter()
        .filter(|t| t.at >= from && t.at < to && t.ok())
        .filter_map(|t| t.lb.as_ref().map(ToString::to_string))
        .collect();
    lbs.sort();
    lbs.dedup();
    lbs
}

/// Sends traffic to the address, kills `target` with the `kill` fault,
/// checks that lb-02 takes the address and answers every request after
/// it, heals, and checks that lb-01 takes it back. Returns the requests
/// that failed, and how many were sent.
fn kill_and_heal(lab: &Lab, st: &LabState, target: &str) -> (Vec<String>, usize) {
    let addr = vip_address(st);
    assert_eq!(
        eventually(Duration::from_secs(5), || holder(addr)
            .filter(|h| h == "lb-01")),
        Some("lb-01".to_owned()),
        "lb-01, the first member, holds the address"
    );
    assert_eq!(holder(published(st)).as_deref(), Some("lb-01"));
    let traffic = Background::start(st, 200.0, 10, 600.0);
    std::thread::sleep(Duration::from_secs(2));
    let killed_at = topolab::live::now();
    lab.cli_exits(0, &["fault", &lab.name, target, "kill"]);
    let kill_done = topolab::live::now();
    let moved = eventually(Duration::from_secs(5), || {
        holder(addr).filter(|h| h == "lb-02")
    });
    assert!(moved.is_some(), "the address did not move to lb-02");
    // The published port follows the address.
    assert_eq!(
        eventually(Duration::from_secs(5), || holder(published(st))
            .filter(|h| h == "lb-02")),
        Some("lb-02".to_owned()),
        "the virtual IP's published port reaches lb-02 once it holds the address"
    );
    std::thread::sleep(Duration::from_secs(2));
    let healed_at = topolab::live::now();
    lab.cli_exits(0, &["heal", &lab.name, target]);
    let heal_done = topolab::live::now();
    let back = eventually(Duration::from_secs(15), || {
        holder(addr).filter(|h| h == "lb-01")
    });
    assert!(back.is_some(), "lb-01 did not take the address back");
    assert_eq!(
        eventually(Duration::from_secs(5), || holder(published(st))
            .filter(|h| h == "lb-01")),
        Some("lb-01".to_owned()),
        "the published port reaches lb-01 again"
    );
    std::thread::sleep(Duration::from_secs(1));
    let (_, traces) = traffic.stop();
    let first = traces.first().map_or(0, |t| t.at);
    let last = traces.last().map_or(0, |t| t.at);
    assert_eq!(answered_by(&traces, first, killed_at), ["lb-01"]);
    assert_eq!(
        answered_by(&traces, killed_at + 1000, healed_at),
        ["lb-02"],
        "after the move every request reached lb-02"
    );
    assert_eq!(answered_by(&traces, last - 500, last + 1), ["lb-01"]);
    // Requests fail only while the address moves: away after the kill,
    // and back once the heal has restarted lb-01 (a second after each
    // command is generous: with keepalived's default advertisement
    // interval a move takes about 3 s).
    let stray: Vec<&RequestTrace> = traces
        .iter()
        .filter(|t| !t.ok())
        .filter(|t| !(killed_at..kill_done + 1000).contains(&t.at))
        .filter(|t| !(healed_at..heal_done + 1000).contains(&t.at))
        .collect();
    assert!(
        stray.is_empty(),
        "requests failed outside the moves (kill {killed_at}..{kill_done}, heal \
         {healed_at}..{heal_done}): {stray:?}"
    );
    // Every request counts for the load balancer that answered it.
    assert!(
        traces
            .iter()
            .filter(|t| t.ok())
            .all(|t| t.lb.as_ref() == Some(&t.entry)),
        "a request through the address counts for the member that held it"
    );
    (failed(&traces), traces.len())
}

/// HAProxy on lb-01 dies: keepalived's check sees it within a tenth of a
/// second and lb-01 gives the address up; requests sent in that moment
/// fail (refused, or lost while the address moves), hardly any other.
#[test]
fn the_address_moves_when_its_load_balancer_dies_and_comes_back() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("vip", "e2e-vip-lb");
    assert!(
        lab.stdout.contains("vip .220 http://127.0.0.1:"),
        "up names the virtual IP:\n{}",
        lab.stdout
    );
    let st = state(&lab);
    let (bad, sent) = kill_and_heal(&lab, &st, "lb-01/lb");
    // Each move (away, and back after the heal) fails the requests sent
    // in its tenth of a second or so, and those in flight on connections
    // to the member that lost the address; the bound is generous.
    assert!(
        bad.len() * 20 <= sent,
        "{} of {sent} failed: {bad:?}",
        bad.len()
    );
    println!("HAProxy killed: {} of {sent} requests failed", bad.len());
    let status = lab.cli_exits(0, &["status", &lab.name]);
    assert!(status.contains("held by lb-01"), "{status}");
}

/// The whole lb-01 host dies (its keepalived with it): lb-02 hears no
/// more advertisements and takes the address after three intervals; the
/// published port follows.
#[test]
fn the_address_moves_when_its_host_dies() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("vip", "e2e-vip-host");
    let st = state(&lab);
    // Its failures depend on how fast lb-02 notices the silence (three
    // advertisements, later on a loaded machine): the moves' windows are
    // checked, and the count reported.
    let (bad, sent) = kill_and_heal(&lab, &st, "lb-01");
    println!("host killed: {} of {sent} requests failed", bad.len());
}
