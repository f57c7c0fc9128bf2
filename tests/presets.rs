//! Every preset parses, validates clean, reviews as its design says, and
//! generates for both database flavors; the review's fixes do what they say.

mod support;

use topolab::generate::{Settings, generate};
use topolab::model::{Category, Finding, FixAction, Flavor, review, validate};
use topolab::preset::PRESETS;

fn ids(findings: &[Finding]) -> Vec<&'static str> {
    let mut ids: Vec<_> = findings.iter().map(|f| f.id).collect();
    ids.sort_unstable();
    ids
}

fn preset(name: &str) -> topolab::model::Topology {
    topolab::preset::Preset::find(name)
        .expect("preset exists")
        .topology()
        .expect("preset is valid")
}

#[test]
fn every_preset_validates_and_generates_for_both_flavors() {
    for p in PRESETS {
        let t = p.topology().unwrap_or_else(|e| panic!("{}: {e:?}", p.name));
        assert_eq!(validate(&t), vec![], "{}", p.name);
        for flavor in Flavor::ALL {
            let mut settings = Settings::for_topology(&t);
            settings.flavor = flavor;
            let files = generate(&t, &settings, &support::fixed_secrets())
                .unwrap_or_else(|e| panic!("{} {flavor:?}: {e}", p.name));
            for host in &t.hosts {
                for (kind, file) in [
                    ("lb", "haproxy.cfg"),
                    ("nginx", "nginx.conf"),
                    ("app", "app.json"),
                    ("db", "my.cnf"),
                    ("db", "bootstrap.sql"),
                ] {
                    let wanted = host.components.iter().any(|c| c.kind().as_str() == kind);
                    let path = format!("{}/{file}", host.name);
                    assert_eq!(
                        files.get(&path).is_some(),
                        wanted,
                        "{} {flavor:?}: {path}",
                        p.name
                    );
                }
            }
            assert!(files.get("docker-compose.yml").is_some());
            assert!(files.get("README.md").is_some());
            // Secret values live in secrets/ only, one file each.
            let secrets = support::fixed_secrets();
            for (path, text) in files.iter() {
                for (secret, value) in secrets.all() {
                    let own = format!("secrets/{}", secret.name());
                    if path == own {
                        assert_eq!(text, value, "{}: {path}", p.name);
                    } else {
                        assert!(
                            !text.contains(value),
                            "{}: {path} contains {}",
                            p.name,
                            secret.name()
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn reference_review_lists_exactly_the_six_known_issues() {
    let findings = review(&preset("reference"));
    assert_eq!(
        ids(&findings),
        [
            "monitoring-none",
            "security-no-segmentation",
            "security-no-tls",
            "spof-dns",
            "spof-load-balancer",
            "spof-primary-database",
            "spof-single-region",
        ]
    );
    let lb = findings
        .iter()
        .find(|f| f.id == "spof-load-balancer")
        .expect("lb spof");
    assert_eq!(lb.subjects[0].to_string(), "lb-01/lb");
    let db = findings
        .iter()
        .find(|f| f.id == "spof-primary-database")
        .expect("db spof");
    assert_eq!(db.subjects[0].to_string(), "web-01/db");
    for f in &findings {
        assert!(!f.explanation.is_empty() && !f.fix.is_empty(), "{}", f.id);
    }
}

#[test]
fn reviews_follow_the_structure_not_the_name() {
    // Active-passive has the reference's weaknesses: the backup covers web-01.
    assert_eq!(
        ids(&review(&preset("active-passive"))),
        ids(&review(&preset("reference")))
    );
    // Two load balancers: no load-balancer SPOF; the single primary remains.
    let scaled = ids(&review(&preset("scaled")));
    assert!(!scaled.contains(&"spof-load-balancer"), "{scaled:?}");
    assert!(scaled.contains(&"spof-primary-database"), "{scaled:?}");
    // The secured preset has no security or monitoring findings.
    let secured = review(&preset("secured-monitored"));
    assert!(
        secured.iter().all(|f| f.category == Category::Spof),
        "{:?}",
        ids(&secured)
    );
    // One server: its web server and app are single points of failure too.
    let one = ids(&review(&preset("one-server")));
    assert!(one.contains(&"spof-web-server"), "{one:?}");
    assert!(one.contains(&"spof-primary-database"), "{one:?}");
}

/// Two load balancers that clients cannot move between (no DNS, no
/// virtual IP) are a finding; sharing a virtual IP removes it, and a
/// reference design's fix for its single load balancer adds a pair.
#[test]
fn load_balancers_without_dns_or_a_virtual_ip_are_found_and_fixed() {
    let mut t = preset("scaled");
    let finding = review(&t)
        .into_iter()
        .find(|f| f.id == "entry-without-failover")
        .expect("the finding");
    assert_eq!(finding.action, Some(FixAction::ShareVirtualIp));
    assert!(FixAction::ShareVirtualIp.apply(&mut t));
    assert_eq!(validate(&t), vec![]);
    assert_eq!(t.vips().len(), 1);
    assert!(!ids(&review(&t)).contains(&"entry-without-failover"));
    assert!(!ids(&review(&preset("vip"))).contains(&"entry-without-failover"));
    assert!(!ids(&review(&preset("dns"))).contains(&"entry-without-failover"));

    let mut t = preset("reference");
    assert!(FixAction::ShareVirtualIp.apply(&mut t));
    let vips = t.vips();
    assert_eq!(vips.len(), 1);
    assert_eq!(
        vips[0].members.len(),
        2,
        "a second load balancer joined the first"
    );
    assert!(
        !FixAction::ShareVirtualIp.apply(&mut t),
        "nothing left to do"
    );

    // A load balancer left out of its region's virtual IP joins it.
    let mut t = preset("vip");
    t.hosts[1].load_balancer_mut().expect("lb").vip = None;
    assert!(FixAction::ShareVirtualIp.apply(&mut t));
    assert_eq!(validate(&t), vec![]);
    assert_eq!(t.vips()[0].members.len(), 2);
}

#[test]
fn each_fix_removes_its_finding() {
    for (action, id) in [
        (FixAction::ShareVirtualIp, "spof-load-balancer"),
        (FixAction::EnableTls, "security-no-tls"),
        (FixAction::SegmentTiers, "security-no-segmentation"),
        (FixAction::EnableMonitoring, "monitoring-none"),
    ] {
        let mut t = preset("reference");
        let before = review(&t);
        let finding = before.iter().find(|f| f.id == id).expect("finding");
        assert_eq!(finding.action, Some(action));
        assert!(action.apply(&mut t), "{action:?} changed nothing");
        assert_eq!(validate(&t), vec![], "{action:?} made the topology invalid");
        let after = ids(&review(&t));
        assert!(!after.contains(&id), "{action:?}: {after:?}");
        assert_eq!(
            after.len(),
            before.len() - 1,
            "{action:?} removed more than its finding: {after:?}"
        );
    }
}

#[test]
fn automatic_failover_answers_the_primary_finding_and_says_what_remains() {
    let mut t = preset("reference");
    let before = review(&t)
        .into_iter()
        .find(|f| f.id == "spof-primary-database")
        .expect("finding");
    assert_eq!(before.action, Some(FixAction::EnableAutomaticFailover));
    assert!(
        before.fix.starts_with("Enable automatic failover"),
        "{}",
        before.fix
    );
    assert!(FixAction::EnableAutomaticFailover.apply(&mut t));
    assert!(!FixAction::EnableAutomaticFailover.apply(&mut t), "twice");
    assert_eq!(validate(&t), vec![]);
    // Writes still depend on one primary at a time: the finding stays,
    // and says what automatic failover leaves.
    let after = review(&t)
        .into_iter()
        .find(|f| f.id == "spof-primary-database")
        .expect("finding");
    assert_eq!(after.action, None);
    assert!(after.fix.contains("outage window"), "{}", after.fix);
    assert!(after.fix.contains("refuses"), "{}", after.fix);
}

#[test]
fn a_host_outside_the_region_removes_the_region_finding() {
    let mut t = preset("scaled");
    t.hosts[1].region = Some("eu-west".to_owned());
    assert!(!ids(&review(&t)).contains(&"spof-single-region"));
}
