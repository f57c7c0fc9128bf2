use super::*;
use crate::model::{HostSize, HostTemplate, Topology, add_host};

fn engine(name: &str, region: Option<&str>, memory_mib: u64) -> EngineSpec {
    EngineSpec {
        name: name.to_owned(),
        region: region.map(str::to_owned),
        memory_mib,
    }
}

/// A design of hosts `(region, memory MiB)`, web servers named in order.
fn design(hosts: &[(Option<&str>, u32)]) -> Topology {
    let mut t = Topology::new("placed");
    add_host(&mut t, HostTemplate::Database);
    t.hosts[0].region = hosts.first().and_then(|(r, _)| r.map(str::to_owned));
    t.hosts[0].size = HostSize {
        cpus: 1.0,
        memory_mib: hosts.first().map_or(1024, |(_, m)| *m),
    };
    for (region, memory) in hosts.iter().skip(1) {
        let name = add_host(&mut t, HostTemplate::WebApp);
        let h = t.hosts.iter_mut().find(|h| h.name == name).expect("added");
        h.region = region.map(str::to_owned);
        h.size = HostSize {
            cpus: 0.5,
            memory_mib: *memory,
        };
    }
    t
}

/// Each engine's hosts, by name, in order.
fn by_engine(p: &Placement) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (h, e) in p {
        out.entry(e.clone()).or_default().push(h.to_string());
    }
    out
}

#[test]
fn hosts_are_placed_by_region_then_balanced_by_size() {
    struct Case {
        what: &'static str,
        hosts: Vec<(Option<&'static str>, u32)>,
        engines: Vec<EngineSpec>,
        want: Vec<(&'static str, Vec<&'static str>)>,
    }
    let cases = [
        Case {
            what: "one engine takes every host",
            hosts: vec![(None, 1024), (None, 256), (None, 256)],
            engines: vec![engine("a", None, 8192)],
            want: vec![("a", vec!["db-01", "web-01", "web-02"])],
        },
        Case {
            what: "two equal engines share the hosts, the largest first",
            hosts: vec![(None, 1024), (None, 512), (None, 512), (None, 256)],
            engines: vec![engine("a", None, 4096), engine("b", None, 4096)],
            // 1280 MiB each.
            want: vec![
                ("a", vec!["db-01", "web-03"]),
                ("b", vec!["web-01", "web-02"]),
            ],
        },
        Case {
            what: "a larger engine takes more",
            hosts: vec![(None, 1024), (None, 1024), (None, 1024), (None, 1024)],
            engines: vec![engine("small", None, 2048), engine("big", None, 8192)],
            want: vec![
                // 3072 of 8192 MiB against 1024 of 2048: the tie at half
                // goes to the engine listed first.
                ("big", vec!["db-01", "web-01", "web-02"]),
                ("small", vec!["web-03"]),
            ],
        },
        Case {
            what: "each region's hosts go to its engines",
            hosts: vec![(Some("eu"), 1024), (Some("eu"), 256), (Some("us"), 256)],
            engines: vec![
                engine("us-1", Some("us"), 4096),
                engine("eu-1", Some("eu"), 4096),
            ],
            want: vec![("eu-1", vec!["db-01", "web-01"]), ("us-1", vec!["web-02"])],
        },
        Case {
            what: "a region no engine names goes to the engines that name none",
            hosts: vec![(Some("eu"), 1024), (Some("us"), 256), (Some("us"), 256)],
            engines: vec![engine("eu-1", Some("eu"), 4096), engine("any", None, 4096)],
            want: vec![("any", vec!["web-01", "web-02"]), ("eu-1", vec!["db-01"])],
        },
        Case {
            what: "without regions in the design, engines' regions do not matter",
            hosts: vec![(None, 1024), (None, 1024)],
            engines: vec![
                engine("eu-1", Some("eu"), 4096),
                engine("us-1", Some("us"), 4096),
            ],
            want: vec![("eu-1", vec!["db-01"]), ("us-1", vec!["web-01"])],
        },
    ];
    for case in cases {
        let t = design(&case.hosts);
        let placed = place(&t, &case.engines, &BTreeSet::new())
            .unwrap_or_else(|e| panic!("{}: {e}", case.what));
        let want: BTreeMap<String, Vec<String>> = case
            .want
            .into_iter()
            .map(|(e, hosts)| (e.to_owned(), hosts.into_iter().map(str::to_owned).collect()))
            .collect();
        assert_eq!(by_engine(&placed), want, "{}", case.what);
        assert_eq!(
            placed.len(),
            t.hosts.len(),
            "{}: every host is placed",
            case.what
        );
        // The same input gives the same placement.
        assert_eq!(
            place(&t, &case.engines, &BTreeSet::new()).as_ref(),
            Ok(&placed),
            "{}",
            case.what
        );
    }
}

#[test]
fn what_cannot_be_placed_is_refused_with_the_reason() {
    struct Case {
        what: &'static str,
        hosts: Vec<(Option<&'static str>, u32)>,
        engines: Vec<EngineSpec>,
        want: PlacementError,
    }
    let cases = [
        Case {
            what: "no engine",
            hosts: vec![(None, 1024)],
            engines: vec![],
            want: PlacementError::NoEngines,
        },
        Case {
            what: "a region without an engine",
            hosts: vec![(Some("eu"), 1024), (Some("us"), 256)],
            engines: vec![engine("eu-1", Some("eu"), 4096)],
            want: PlacementError::NoEngineForRegion {
                region: "us".to_owned(),
                hosts: vec!["web-01".to_owned()],
            },
        },
        Case {
            what: "a host larger than any engine has left",
            hosts: vec![(None, 1024), (None, 1024), (None, 1024)],
            engines: vec![engine("a", None, 1536), engine("b", None, 1536)],
            want: PlacementError::DoesNotFit {
                host: "web-02".to_owned(),
                need_mib: 1024,
                free_mib: 512,
            },
        },
    ];
    for case in cases {
        let t = design(&case.hosts);
        assert_eq!(
            place(&t, &case.engines, &BTreeSet::new()),
            Err(case.want),
            "{}",
            case.what
        );
    }
}

#[test]
fn the_placement_reads_one_line_per_engine() {
    let t = design(&[(None, 1024), (None, 256)]);
    let engines = [
        engine("a", None, 4096),
        engine("b", None, 2048),
        engine("c", None, 512),
    ];
    let placed = place(&t, &engines, &BTreeSet::new()).expect("placed");
    assert_eq!(
        describe(&t, &engines, &placed),
        [
            "a: db-01 (1024 of 4096 MiB)",
            "b: web-01 (256 of 2048 MiB)",
            "c: no host (0 of 512 MiB)"
        ]
    );
}

#[test]
fn hosts_that_publish_a_port_run_on_the_first_engine() {
    // The reference design: its load balancer is its entry point.
    let t = crate::preset::Preset::find("reference")
        .and_then(|p| p.topology().ok())
        .expect("the reference preset");
    let home = publishing(&t);
    assert_eq!(
        home.iter().map(HostName::as_str).collect::<Vec<_>>(),
        ["lb-01"]
    );
    // A larger second engine would take every host but the entry point.
    let engines = [engine("home", None, 1024), engine("big", None, 65536)];
    let placed = place(&t, &engines, &home).expect("placed");
    assert_eq!(placed[&HostName::from("lb-01")], "home");
    assert!(
        placed
            .iter()
            .filter(|(h, _)| h.as_str() != "lb-01")
            .all(|(_, e)| e == "big"),
        "{placed:?}"
    );
    // In a design of regions too, and the home engine's room counts.
    let mut regional = design(&[(Some("eu"), 1024), (Some("us"), 256)]);
    let web = HostName::from("web-01");
    let pinned = BTreeSet::from([web.clone()]);
    let engines = [
        engine("eu-1", Some("eu"), 4096),
        engine("us-1", Some("us"), 4096),
    ];
    let placed = place(&regional, &engines, &pinned).expect("placed");
    assert_eq!(placed[&web], "eu-1");
    regional.hosts[1].size.memory_mib = 8192;
    assert!(matches!(
        place(&regional, &engines, &pinned),
        Err(PlacementError::DoesNotFit { .. })
    ));
}
