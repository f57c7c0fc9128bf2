//! End-to-end: a design of two regions in a real lab. Each region has its
//! own network; the router joins them, so region b's replica replicates
//! from region a's primary through it. `partition a` cuts the regions
//! apart while their hosts run on (replication stops crossing, each DNS
//! server's health check stops reaching the other region's address);
//! `region-outage b` kills every host of region b at once. Healing undoes
//! both. Skipped with a message when no engine is reachable, unless
//! `TOPOLAB_E2E=require` (CI).

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::lab::{Lab, dns_answer, docker, eventually};
use topolab::lab::state::LabState;

fn state(lab: &Lab) -> LabState {
    serde_json::from_value(lab.state()).expect("lab state")
}

/// The entry points DNS server `host` names now (`vip .220`...), or
/// `None` when it does not answer within a second.
fn answer(st: &LabState, host: &str) -> Option<BTreeSet<String>> {
    dns_answer(st, host).map(|(named, _)| named)
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// Waits until DNS server `dns` names exactly `want`.
fn dns_names(st: &LabState, dns: &str, want: &[&str]) {
    let got = eventually(Duration::from_secs(20), || {
        let a = answer(st, dns)?;
        (a == set(want)).then_some(a)
    });
    assert!(
        got.is_some(),
        "{dns} does not name {want:?}: {:?}",
        answer(st, dns)
    );
}

/// Rows of `topolab_test.crossed` on `host`'s database.
fn rows(lab: &Lab, host: &str) -> String {
    lab.sql(host, "SELECT COUNT(*) FROM topolab_test.crossed")
}

/// Whether `host` can open a TCP connection to `addr:port` within two
/// seconds.
fn reaches(lab: &Lab, host: &str, addr: &str, port: u16) -> bool {
    let (code, _) = lab.exec(
        &format!("topolab-{}-{host}", lab.name),
        &[
            "timeout",
            "2",
            "bash",
            "-c",
            &format!("echo > /dev/tcp/{addr}/{port}"),
        ],
    );
    code == 0
}

#[test]
fn regions_are_joined_by_the_router_and_cut_apart_by_their_faults() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("two-regions", "e2e-regions");
    let st = state(&lab);
    let plan = st.addresses();
    assert!(plan.spans_regions());
    let a1 = plan
        .address(&"web-a1".into(), topolab::model::Network::Lab)
        .expect("web-a1's address")
        .to_string();

    // The WAN's latency: applied, or said not to be.
    let (_, qdiscs) = lab.exec(
        &format!("topolab-{}-wan", lab.name),
        &["tc", "qdisc", "show"],
    );
    if lab.stdout.contains("no netem (sch_netem)") {
        assert!(!qdiscs.contains("netem"), "{qdiscs}");
    } else {
        assert!(
            qdiscs.contains("netem") && qdiscs.contains("delay 20"),
            "{qdiscs}"
        );
    }

    // Region b's replica replicates region a's primary through the router.
    lab.sql(
        "web-a1",
        "CREATE DATABASE topolab_test; \
         CREATE TABLE topolab_test.crossed (n INT PRIMARY KEY); \
         INSERT INTO topolab_test.crossed VALUES (1)",
    );
    for replica in ["web-a2", "web-b1"] {
        assert!(
            eventually(Duration::from_secs(10), || {
                (rows(&lab, replica) == "1").then_some(())
            })
            .is_some(),
            "{replica} did not receive the row"
        );
    }
    assert!(reaches(&lab, "web-b1", &a1, 3306));
    let both = ["vip .220", "vip .221"];
    dns_names(&st, "dns-a", &both);
    dns_names(&st, "dns-b", &both);

    // A partition: the regions run on, apart.
    let said = lab.cli_exits(0, &["fault", &lab.name, "partition", "a"]);
    assert!(
        said.contains("region a: the region cut off") && said.contains("verified"),
        "{said}"
    );
    assert!(!reaches(&lab, "web-b1", &a1, 3306));
    assert!(reaches(&lab, "web-a2", &a1, 3306));
    lab.sql("web-a1", "INSERT INTO topolab_test.crossed VALUES (2)");
    assert!(
        eventually(Duration::from_secs(10), || (rows(&lab, "web-a2") == "2")
            .then_some(()))
        .is_some()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(rows(&lab, "web-b1"), "1", "the row crossed the partition");
    // Each DNS server's health check reaches its own region only.
    dns_names(&st, "dns-a", &["vip .220"]);
    dns_names(&st, "dns-b", &["vip .221"]);
    // An unknown region is refused, naming the lab's regions.
    let said = lab.cli_exits(1, &["fault", &lab.name, "partition", "nowhere"]);
    assert!(
        said.contains("no region nowhere in this lab (its regions: a, b)"),
        "{said}"
    );

    let healed = lab.cli_exits(0, &["heal", &lab.name, "partition", "a"]);
    assert!(healed.contains("healed region a (partition)"), "{healed}");
    assert!(reaches(&lab, "web-b1", &a1, 3306));
    assert!(
        eventually(Duration::from_secs(60), || (rows(&lab, "web-b1") == "2")
            .then_some(()))
        .is_some(),
        "web-b1 did not catch up after the partition healed"
    );
    dns_names(&st, "dns-b", &both);

    // An outage: every host of region b down at once.
    let said = lab.cli_exits(0, &["fault", &lab.name, "region-outage", "b"]);
    assert!(
        said.contains("(dns-b, lb-b1, lb-b2, web-b1)") && said.contains("verified"),
        "{said}"
    );
    let status = lab.cli_exits(0, &["status", &lab.name]);
    for host in ["dns-b", "lb-b1", "lb-b2", "web-b1"] {
        assert!(
            status.contains(&format!("\n  {host} "))
                && !status.contains(&format!("{host}/db running")),
            "{status}"
        );
    }
    dns_names(&st, "dns-a", &["vip .220"]);
    let healed = lab.cli_exits(0, &["heal", &lab.name, "region-outage", "b"]);
    for host in ["dns-b", "lb-b1", "lb-b2", "web-b1"] {
        assert!(
            healed.contains(&format!("healed {host} (kill)")),
            "{healed}"
        );
    }
    dns_names(&st, "dns-a", &both);
    assert!(
        eventually(Duration::from_secs(30), || (rows(&lab, "web-b1") == "2")
            .then_some(()))
        .is_some()
    );

    // A host cut off its network and joined again has its routes to the
    // other region back (they left with the interface).
    lab.cli_exits(0, &["fault", &lab.name, "web-b1", "disconnect"]);
    assert!(!reaches(&lab, "web-b1", &a1, 3306));
    lab.cli_exits(0, &["heal", &lab.name, "web-b1"]);
    assert!(
        reaches(&lab, "web-b1", &a1, 3306),
        "web-b1 lost its route to region a after rejoining its network"
    );

    // `heal --all` lifts a partition too.
    lab.cli_exits(0, &["fault", &lab.name, "partition", "b"]);
    assert!(!reaches(&lab, "web-b1", &a1, 3306));
    lab.cli_exits(0, &["heal", &lab.name, "--all"]);
    assert!(
        reaches(&lab, "web-b1", &a1, 3306),
        "heal --all left region b cut off"
    );
    let st = state(&lab);
    assert!(st.partitions.is_empty(), "{:?}", st.partitions);
}
