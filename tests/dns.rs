//! DNS in the design, without Docker: the records each design generates,
//! validation of the DNS settings, the review's DNS findings and their
//! fixes, and how a running lab takes a change of its records.

mod support;

use support::{preset, problems};

use topolab::change::{self, Impact, Running, Step};
use topolab::generate::{Settings, generate};
use topolab::model::{
    Component, ComponentKind, DnsServer, FixAction, Flavor, Host, Topology, review,
};

fn zone(t: &Topology, host: &str) -> String {
    let files = generate(t, &Settings::for_topology(t), &support::fixed_secrets()).expect("valid");
    files
        .get(&format!("{host}/zone"))
        .expect("a zone file")
        .to_owned()
}

#[test]
fn health_checked_records_check_every_load_balancer() {
    let t = preset("dns");
    let text = zone(&t, "dns-01");
    let plan = topolab::model::AddressPlan::numbered(
        &t,
        topolab::model::DEFAULT_FIRST_SUBNET,
        &Default::default(),
    );
    let lb = |h: &str| {
        plan.address(&h.into(), topolab::model::Network::Lab)
            .expect("address")
    };
    let record = text
        .lines()
        .find(|l| l.starts_with("www "))
        .expect("the site's record");
    assert_eq!(
        record,
        format!(
            "www IN LUA A \"ifportup(80, {{'{}', '{}'}}, {{selector='all', backupSelector='all', timeout=1}})\"",
            lb("lb-01"),
            lb("lb-02")
        )
    );
    assert!(text.contains("$TTL 2\n"), "{text}");
    // Both servers are the zone's name servers, and answer alike.
    assert!(text.contains("@ IN NS dns-01.foobar.com.\n@ IN NS dns-02.foobar.com.\n"));
    let records = |z: &str| -> Vec<String> {
        z.lines()
            .filter(|l| !l.starts_with(';'))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(records(&zone(&t, "dns-02")), records(&text));
}

#[test]
fn plain_records_name_each_entry_point() {
    let mut t = preset("dns");
    t.dns.health_checked = false;
    t.dns.ttl_s = 60;
    let text = zone(&t, "dns-01");
    let records: Vec<&str> = text.lines().filter(|l| l.starts_with("www ")).collect();
    assert_eq!(records.len(), 2, "{text}");
    assert!(records[0].ends_with("; lb-01") && records[1].ends_with("; lb-02"));
    assert!(records.iter().all(|r| r.starts_with("www IN A 10.")));
    assert!(text.contains("$TTL 60\n"));
}

#[test]
fn a_design_without_load_balancers_names_its_web_servers() {
    let mut t = preset("one-server");
    t.hosts
        .push(Host::new("dns-01").with([Component::Dns(DnsServer::default())]));
    assert_eq!(problems(&t), Vec::<String>::new());
    let text = zone(&t, "dns-01");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("www IN A ")).count(),
        t.entry_points().len()
    );
}

#[test]
fn bad_dns_settings_are_refused_with_what_to_do() {
    let mut t = preset("dns");
    t.dns.ttl_s = 0;
    let p = problems(&t);
    assert!(
        p.iter().any(|m| m.contains("ttl_s is 0")),
        "a TTL of 0: {p:?}"
    );

    let mut t = preset("reference");
    t.dns.health_checked = true;
    let p = problems(&t);
    assert!(
        p.iter()
            .any(|m| m.contains("health_checked is on, but no host runs a DNS server")),
        "{p:?}"
    );

    let mut t = preset("dns");
    t.hosts[0]
        .components
        .push(Component::with_defaults(ComponentKind::Nginx));
    let p = problems(&t);
    assert!(
        p.iter().any(|m| m.contains("runs on a host of its own")),
        "{p:?}"
    );

    let mut t = preset("dns");
    t.hosts[0].name = "www".into();
    let p = problems(&t);
    assert!(
        p.iter()
            .any(|m| m.contains("named in the zone like the site")),
        "{p:?}"
    );

    let mut t = preset("dns");
    if let Some(lb) = t.hosts[3].load_balancer_mut() {
        lb.port = 8080;
    }
    let p = problems(&t);
    assert!(p.iter().any(|m| m.contains("80 and 8080")), "{p:?}");
}

#[test]
fn dns_servers_publish_ports_no_other_port_takes() {
    let t = preset("dns");
    let ports = topolab::model::dns_published_ports(&t);
    let numbers: Vec<u32> = ports.iter().map(|(_, p, _)| *p).collect();
    assert_eq!(numbers, [5300, 5301]);
    let mut pinned = t.clone();
    if let Some(lb) = pinned.hosts[2].load_balancer_mut() {
        lb.published_port = Some(5301);
    }
    let p = problems(&pinned);
    assert!(p.iter().any(|m| m.contains("5301")), "{p:?}");
}

fn dns_ids(t: &Topology) -> Vec<&'static str> {
    let mut ids: Vec<_> = review(t)
        .into_iter()
        .map(|f| f.id)
        .filter(|id| id.starts_with("spof-dns"))
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn the_review_finds_the_dns_weaknesses_and_its_fixes_remove_them() {
    let mut t = preset("reference");
    let none = review(&t)
        .into_iter()
        .find(|f| f.id == "spof-dns")
        .expect("no DNS server is a finding");
    assert_eq!(none.action, Some(FixAction::AddDnsServer));
    assert!(FixAction::AddDnsServer.apply(&mut t));
    assert_eq!(problems(&t), Vec::<String>::new());
    let dns = t.host(&"dns-01".into()).expect("added");
    assert!(dns.has(ComponentKind::Dns));
    // One server: it is a single point of failure.
    let single = review(&t)
        .into_iter()
        .find(|f| f.id == "spof-dns")
        .expect("one DNS server is a finding");
    assert_eq!(single.subjects[0].to_string(), "dns-01/dns");
    assert!(FixAction::AddDnsServer.apply(&mut t));
    assert_eq!(
        dns_ids(&t),
        Vec::<&str>::new(),
        "one load balancer: no record to check"
    );
    // Two entry points behind plain records: a dead one keeps its record.
    assert!(FixAction::AddLoadBalancer.apply(&mut t));
    assert_eq!(dns_ids(&t), ["spof-dns-records"]);
    assert!(FixAction::HealthCheckDns.apply(&mut t));
    assert!(!FixAction::HealthCheckDns.apply(&mut t), "already on");
    assert_eq!(dns_ids(&t), Vec::<&str>::new());
    assert_eq!(problems(&t), Vec::<String>::new());
    assert_eq!(dns_ids(&preset("dns")), Vec::<&str>::new());
}

const MARIADB: Running = Running {
    flavor: Flavor::Mariadb,
    would_run: Flavor::Mariadb,
};

#[test]
fn a_running_lab_takes_new_records_without_a_restart() {
    let lab = preset("dns");
    let mut edited = lab.clone();
    edited.dns.ttl_s = 30;
    edited.dns.health_checked = false;
    let plan = change::plan(&lab, &edited, MARIADB).expect("valid");
    assert!(plan.relaunch.is_empty(), "{:?}", plan.relaunch);
    assert_eq!(plan.actions.len(), 1);
    let a = &plan.actions[0];
    assert_eq!(a.step, Step::Dns(edited.dns));
    assert_eq!(a.impact, Impact::Hitless);
    assert!(a.summary.contains("TTL 2 s → 30 s"), "{}", a.summary);
    assert!(a.why.contains("up to 2 s"), "{}", a.why);

    // A DNS server's port is published at launch.
    let mut moved = lab.clone();
    if let Some(Component::Dns(d)) = moved.hosts[0].components.first_mut() {
        d.port = 5353;
    }
    let plan = change::plan(&lab, &moved, MARIADB).expect("valid");
    assert!(
        plan.relaunch
            .iter()
            .any(|r| r.contains("dns-01/dns's port")),
        "{:?}",
        plan.relaunch
    );

    // A new DNS server is a new host, added without a restart.
    let mut more = lab.clone();
    assert!(FixAction::AddDnsServer.apply(&mut more));
    let plan = change::plan(&lab, &more, MARIADB).expect("valid");
    assert!(plan.relaunch.is_empty(), "{:?}", plan.relaunch);
    assert!(
        plan.actions.iter().any(
            |a| matches!(&a.step, Step::AddHost { host, .. } if host.name.as_str() == "dns-03")
        ),
        "{:?}",
        plan.actions
    );
}
