//! Regions in the design, without Docker: validation of regions and the
//! WAN, the bundle's router and routes, the review's "Add a second region"
//! fix, and what a running lab can take.

mod support;

use support::{preset, problems};

use topolab::generate::{Settings, generate};
use topolab::model::{FixAction, Topology, review};

fn move_to(t: &mut Topology, host: &str, region: Option<&str>) {
    t.hosts
        .iter_mut()
        .find(|h| h.name.as_str() == host)
        .expect("host")
        .region = region.map(str::to_owned);
}

#[test]
fn a_region_without_an_entry_point_is_refused() {
    let mut t = preset("reference");
    move_to(&mut t, "web-02", Some("b"));
    let p = problems(&t);
    assert!(
        p.iter()
            .any(|m| m.contains("region b has no entry point")
                && m.contains("give it a load balancer")),
        "{p:?}"
    );
    // Its own load balancer makes it reachable.
    let mut fixed = t.clone();
    FixAction::AddLoadBalancer.apply(&mut fixed);
    let lb = fixed.hosts.last().expect("a new lb").name.clone();
    move_to(&mut fixed, lb.as_str(), Some("b"));
    assert!(
        !problems(&fixed)
            .iter()
            .any(|m| m.contains("no entry point")),
        "{:?}",
        problems(&fixed)
    );
}

#[test]
fn regions_and_the_wan_have_limits() {
    let mut t = preset("two-regions");
    assert!(problems(&t).is_empty(), "{:?}", problems(&t));
    t.wan.latency_ms = 5_000;
    assert!(
        problems(&t)
            .iter()
            .any(|m| m.contains("wan: latency_ms is 5000; it must be 0 to 2000")),
        "{:?}",
        problems(&t)
    );
    t.wan.latency_ms = 40;
    // Hosts that name no region are in "default": a region named so too
    // would be two regions of one name.
    move_to(&mut t, "dns-a", None);
    move_to(&mut t, "lb-a1", None);
    move_to(&mut t, "lb-a2", None);
    move_to(&mut t, "web-a1", None);
    move_to(&mut t, "web-a2", None);
    assert!(problems(&t).is_empty(), "{:?}", problems(&t));
    move_to(&mut t, "dns-b", Some("default"));
    assert!(
        problems(&t)
            .iter()
            .any(|m| m.contains("name no region and some name region \"default\"")),
        "{:?}",
        problems(&t)
    );
    // Five regions are more than a lab spans.
    let mut t = preset("two-regions");
    for (host, region) in [("web-a2", "c"), ("lb-b2", "d"), ("lb-a2", "e")] {
        move_to(&mut t, host, Some(region));
    }
    assert!(
        problems(&t).iter().any(
            |m| m.contains("the hosts run in 5 regions (a, b, c, d, e); a lab spans at most 4")
        ),
        "{:?}",
        problems(&t)
    );
    // A host cannot take the router's name.
    let mut t = preset("reference");
    t.hosts[0].name = "wan".into();
    assert!(
        problems(&t)
            .iter()
            .any(|m| m.contains("\"wan\" is reserved")),
        "{:?}",
        problems(&t)
    );
}

#[test]
fn the_bundle_runs_the_router_and_routes_each_host_through_it() {
    let t = preset("two-regions");
    let files =
        generate(&t, &Settings::for_topology(&t), &support::fixed_secrets()).expect("valid");
    let compose = files.get("docker-compose.yml").expect("compose");
    let wan = compose
        .split("\n  wan:\n")
        .nth(1)
        .expect("a wan service")
        .split("\n\nnetworks:")
        .next()
        .unwrap_or_default();
    assert!(wan.contains("cap_add: [NET_ADMIN]"), "{wan}");
    assert!(wan.contains("net.ipv4.ip_forward: \"1\""), "{wan}");
    assert!(
        wan.contains("lab-a:\n        ipv4_address: 10.214.0.251"),
        "{wan}"
    );
    assert!(
        wan.contains("lab-b:\n        ipv4_address: 10.214.1.251"),
        "{wan}"
    );
    assert!(wan.contains("netem delay 20ms"), "{wan}");
    // A host of region b routes region a's subnet through the router.
    let b1 = compose
        .split("\n  web-b1:\n")
        .nth(1)
        .expect("web-b1")
        .split("\n  web-b1-")
        .next()
        .unwrap_or_default();
    assert!(b1.contains("cap_add: [NET_ADMIN]"), "{b1}");
    assert!(
        b1.contains("ip route replace 10.214.0.0/24 via 10.214.1.251 && exec sleep infinity"),
        "{b1}"
    );
    assert!(
        b1.contains("lab-b:\n        ipv4_address: 10.214.1.18"),
        "{b1}"
    );
    // DNS names each region's virtual IP.
    let zone = files.get("dns-a/zone").expect("zone");
    assert!(
        zone.contains("10.214.0.220") && zone.contains("10.214.1.221"),
        "{zone}"
    );
    // One region: no router.
    let one = preset("vip");
    let files = generate(
        &one,
        &Settings::for_topology(&one),
        &support::fixed_secrets(),
    )
    .expect("valid");
    let compose = files.get("docker-compose.yml").expect("compose");
    assert!(!compose.contains("\n  wan:\n"), "{compose}");
    assert!(!compose.contains("ip route"), "{compose}");
}

#[test]
fn the_single_region_finding_adds_a_second_region() {
    let mut t = preset("reference");
    let finding = review(&t)
        .into_iter()
        .find(|f| f.id == "spof-single-region")
        .expect("the finding");
    assert_eq!(finding.action, Some(FixAction::AddSecondRegion));
    assert!(FixAction::AddSecondRegion.apply(&mut t));
    assert!(problems(&t).is_empty(), "{:?}", problems(&t));
    let regions = t.regions();
    assert_eq!(regions, [Some("a"), Some("b")]);
    let in_b: Vec<&topolab::model::Host> = t
        .hosts
        .iter()
        .filter(|h| h.region.as_deref() == Some("b"))
        .collect();
    let names: Vec<&str> = in_b.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["web-03", "lb-02"]);
    // The web server runs what web-01 runs, its database a replica of the
    // primary; the load balancer sends to it.
    assert_eq!(t.source_of(&"web-03".into()), Some(&"web-01".into()));
    assert!(in_b[0].web_server().is_some() && in_b[0].app_server().is_some());
    let lb = in_b[1].load_balancer().expect("an lb");
    let backends: Vec<&str> = lb.backends.iter().map(|b| b.host.as_str()).collect();
    assert_eq!(backends, ["web-03"]);
    // DNS names both regions' entry points, health-checked.
    assert_eq!(t.dns_servers().count(), 1);
    assert!(t.dns.health_checked);
    let files =
        generate(&t, &Settings::for_topology(&t), &support::fixed_secrets()).expect("valid");
    let zone = files
        .iter()
        .find(|(name, _)| name.ends_with("/zone"))
        .map(|(_, text)| text)
        .expect("a zone");
    assert!(zone.contains("ifportup"), "{zone}");
    // The finding is gone, and the fix does nothing twice.
    assert!(!review(&t).iter().any(|f| f.id == "spof-single-region"));
    assert!(!FixAction::AddSecondRegion.apply(&mut t));
}

#[test]
fn a_running_lab_needs_a_relaunch_to_change_its_regions() {
    let running = topolab::change::Running {
        flavor: topolab::model::Flavor::Mariadb,
        would_run: topolab::model::Flavor::Mariadb,
    };
    let lab = preset("two-regions");
    // Moving a host to the other region moves its addresses.
    let mut moved = lab.clone();
    move_to(&mut moved, "web-a2", Some("b"));
    let plan = topolab::change::plan(&lab, &moved, running).expect("valid");
    assert!(
        plan.relaunch
            .iter()
            .any(|r| r.contains("web-a2 moves to region b")),
        "{:?}",
        plan.relaunch
    );
    // A new region is new networks.
    let mut more = lab.clone();
    for h in &mut more.hosts {
        if let Some(lb) = h.load_balancer_mut() {
            lb.vip = None;
        }
    }
    move_to(&mut more, "lb-b2", Some("c"));
    let plan = topolab::change::plan(&lab, &more, running).expect("valid");
    assert!(
        plan.relaunch
            .iter()
            .any(|r| r.contains("lab-a, lab-b → lab-a, lab-b, lab-c")),
        "{:?}",
        plan.relaunch
    );
    // The WAN's latency is set when the router starts.
    let mut slower = lab.clone();
    slower.wan.latency_ms = 80;
    let plan = topolab::change::plan(&lab, &slower, running).expect("valid");
    assert!(
        plan.relaunch
            .iter()
            .any(|r| r.contains("the WAN's latency 40 → 80 ms")),
        "{:?}",
        plan.relaunch
    );
    // In a design of one region, its name is only recorded.
    let one = preset("reference");
    let mut named = one.clone();
    for h in &mut named.hosts {
        h.region = Some("eu".to_owned());
    }
    named.wan.latency_ms = 80;
    let plan = topolab::change::plan(&one, &named, running).expect("valid");
    assert!(plan.relaunch.is_empty(), "{:?}", plan.relaunch);
    assert_eq!(plan.actions.len(), named.hosts.len() + 1);
}
