//! A virtual IP in the design, without Docker: validation of the `vip`
//! setting, the files generated for its members, the launch plan's
//! keepalived containers, and DNS records naming the address.

mod support;

use support::{preset, problems};

use topolab::generate::{Settings, generate};
use topolab::model::Topology;

fn set_vip(t: &mut Topology, host: &str, vip: Option<u8>) {
    let h = t
        .hosts
        .iter_mut()
        .find(|h| h.name.as_str() == host)
        .expect("host");
    h.load_balancer_mut().expect("a load balancer").vip = vip;
}

#[test]
fn the_vip_preset_shares_one_address_between_its_load_balancers() {
    let t = preset("vip");
    let vips = t.vips();
    assert_eq!(vips.len(), 1);
    assert_eq!(vips[0].number, 220);
    assert_eq!(vips[0].label(), "vip .220");
    let members: Vec<&str> = vips[0].members.iter().map(|m| m.as_str()).collect();
    assert_eq!(members, ["lb-01", "lb-02"]);
    let files =
        generate(&t, &Settings::for_topology(&t), &support::fixed_secrets()).expect("valid");
    for (member, priority, peer) in [("lb-01", 150, "10.214.0.11"), ("lb-02", 140, "10.214.0.10")] {
        let conf = files
            .get(&format!("{member}/keepalived.conf"))
            .expect("keepalived.conf");
        assert!(
            conf.contains(&format!("    priority {priority}\n")),
            "{conf}"
        );
        assert!(conf.contains(&format!("        {peer}\n")), "{conf}");
        assert!(
            conf.contains("        10.214.0.220/24 dev eth0\n"),
            "{conf}"
        );
        assert!(conf.contains("    advert_int 0.1\n"), "{conf}");
        assert!(files.get(&format!("{member}/vrrp-check.sh")).is_some());
        // HAProxy answers keepalived's check and says who it is.
        let haproxy = files
            .get(&format!("{member}/haproxy.cfg"))
            .expect("haproxy");
        assert!(
            haproxy.contains(&format!(
                "http-request return status 200 content-type text/plain string \"{member}\" if {{ path /topolab/lb }}"
            )),
            "{haproxy}"
        );
    }
    // The bundle runs keepalived beside each member with NET_ADMIN.
    let compose = files.get("docker-compose.yml").expect("compose");
    for member in ["lb-01", "lb-02"] {
        let service = compose
            .split(&format!("  {member}-vrrp:\n"))
            .nth(1)
            .expect("a keepalived service");
        let service = service.split("\n  lb-").next().unwrap_or_default();
        assert!(service.contains("cap_add: [NET_ADMIN]"), "{service}");
        assert!(service.contains(&format!("network_mode: \"service:{member}\"")));
    }
    // Without a vip, no keepalived.
    let plain = preset("dns");
    let files = generate(
        &plain,
        &Settings::for_topology(&plain),
        &support::fixed_secrets(),
    )
    .expect("valid");
    assert!(files.iter().all(|(p, _)| !p.ends_with("keepalived.conf")));
}

#[test]
fn bad_vips_are_refused_with_what_to_do() {
    let mut t = preset("vip");
    set_vip(&mut t, "lb-01", Some(12));
    set_vip(&mut t, "lb-02", Some(12));
    let p = problems(&t);
    assert!(
        p.iter()
            .any(|m| m.contains("lb-01/lb: vip 12 is outside .220 to .249")),
        "{p:?}"
    );

    let mut t = preset("vip");
    set_vip(&mut t, "lb-02", None);
    let p = problems(&t);
    assert!(
        p.iter()
            .any(|m| m.contains("lb-01/lb: vip .220 has no other load balancer")),
        "{p:?}"
    );

    let mut t = preset("vip");
    t.hosts[1].load_balancer_mut().expect("lb").port = 8080;
    let p = problems(&t);
    assert!(
        p.iter()
            .any(|m| m.contains("vip .220's load balancers listen on 80 and 8080")),
        "{p:?}"
    );

    // With TLS, HTTPS through the address reaches whichever member holds
    // it on the same port.
    let mut t = preset("vip");
    t.security.tls = true;
    assert_eq!(problems(&t), Vec::<String>::new());
    t.hosts[1].load_balancer_mut().expect("lb").tls_port = 8443;
    let p = problems(&t);
    assert!(
        p.iter().any(|m| m.contains(
            "vip .220's load balancers listen for HTTPS on 443 and 8443: give them the same tls_port"
        )),
        "{p:?}"
    );

    let mut t = preset("vip");
    t.hosts[1].region = Some("eu-west".to_owned());
    let p = problems(&t);
    assert!(
        p.iter()
            .any(|m| m.contains("vip .220 joins load balancers of different regions")),
        "{p:?}"
    );

    // Two groups of their own are fine.
    let mut t = preset("vip");
    set_vip(&mut t, "lb-01", Some(230));
    set_vip(&mut t, "lb-02", Some(230));
    assert_eq!(problems(&t), Vec::<String>::new());
}

#[test]
fn dns_records_name_the_virtual_ip_once() {
    let mut t = preset("dns");
    set_vip(&mut t, "lb-01", Some(220));
    set_vip(&mut t, "lb-02", Some(220));
    assert_eq!(problems(&t), Vec::<String>::new());
    let files =
        generate(&t, &Settings::for_topology(&t), &support::fixed_secrets()).expect("valid");
    let zone = files.get("dns-01/zone").expect("zone");
    let record = zone
        .lines()
        .find(|l| l.starts_with("www "))
        .expect("the site's record");
    assert!(record.contains("{'10.214.0.220'}"), "{record}");
    assert!(
        zone.contains("10.214.0.220 is vip .220 (lb-01, lb-02)"),
        "{zone}"
    );
}

#[test]
fn a_running_lab_needs_a_relaunch_for_other_virtual_ips() {
    let running = topolab::change::Running {
        flavor: topolab::model::Flavor::Mariadb,
        would_run: topolab::model::Flavor::Mariadb,
    };
    let lab = preset("vip");
    let mut edited = lab.clone();
    set_vip(&mut edited, "lb-01", None);
    set_vip(&mut edited, "lb-02", None);
    let plan = topolab::change::plan(&lab, &edited, running).expect("valid");
    assert!(
        plan.relaunch
            .iter()
            .any(|r| r.contains("the virtual IPs (vip .220 on lb-01, lb-02 → none)")),
        "{:?}",
        plan.relaunch
    );
    assert!(
        plan.actions.is_empty(),
        "nothing is done to a lab that needs a relaunch"
    );
    // Other settings of the members are applied as usual.
    let mut retried = lab.clone();
    retried.hosts[0].load_balancer_mut().expect("lb").retries = 3;
    let plan = topolab::change::plan(&lab, &retried, running).expect("valid");
    assert!(plan.relaunch.is_empty(), "{:?}", plan.relaunch);
}
