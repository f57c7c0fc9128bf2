//! End-to-end: rolling deploys and orchestrated failover on real labs
//! (local image profile), under traffic from the generator. The reference
//! design's deploys, the bad release's rollback, the automatic promotion
//! and the partitioned primary are the shipped lessons (`e2e_scenarios`);
//! this file covers the scaled design, what each host answers, and the
//! orchestrator's refusals. Skipped with a message when no engine is
//! reachable, unless `TOPOLAB_E2E=require` (CI).

mod support;

use std::time::Duration;

use support::lab::{Background, Lab, client, docker, failed, http};
use topolab::lab::state::LabState;

fn state(lab: &Lab) -> LabState {
    serde_json::from_value(lab.state()).expect("lab state")
}

/// The release each app host answers with, asked through its own host's
/// Nginx (not the load balancer), and the release Nginx names for the
/// host's static files.
fn answers(lab: &Lab, host: &str) -> (String, String) {
    let holder = format!("topolab-{}-{host}", lab.name);
    let header = |path: &str| {
        let (code, out) = lab.exec(
            &holder,
            &["curl", "-sS", "-m", "2", "-D", "-", "-o", "/dev/null", path],
        );
        assert_eq!(code, 0, "{host} {path}: {out}");
        out.lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("x-topolab-version:")
                    .map(|v| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    (
        header("http://127.0.0.1/"),
        header("http://127.0.0.1/static/index.html"),
    )
}

/// On the scaled design (three servers, two load balancers), v2 rolls out
/// two hosts at a time under 200 requests per second: no request fails,
/// both releases answer for a while, and at the end every host answers v2
/// from its app and its static files, as the lab's record says.
#[test]
fn a_rolling_deploy_on_the_scaled_design_fails_no_request() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("scaled", "e2e-op-scaled");
    let apps: Vec<String> = state(&lab)
        .topology
        .hosts
        .iter()
        .filter(|h| h.app_server().is_some())
        .map(|h| h.name.to_string())
        .collect();
    assert!(apps.len() >= 3, "{apps:?}");
    for host in &apps {
        assert_eq!(answers(&lab, host), ("v1".to_owned(), "v1".to_owned()));
    }
    // A batch of every server is refused before anything changes.
    let refused = lab.cli_exits(1, &["deploy", &lab.name, "v2", "--batch", "9"]);
    assert!(refused.contains("out of rotation at once"), "{refused}");

    let traffic = Background::start(&state(&lab), 200.0, 10, 600.0);
    std::thread::sleep(Duration::from_secs(2));
    let dir = tempfile::tempdir().expect("dir");
    let report = dir.path().join("deploy.md");
    let out = lab.cli_exits(
        0,
        &[
            "deploy",
            &lab.name,
            "v2",
            "--batch",
            "2",
            "--report",
            report.to_str().expect("path"),
        ],
    );
    assert!(out.contains("deployed v2 to"), "{out}");
    std::thread::sleep(Duration::from_secs(2));
    let (_, traces) = traffic.stop();
    assert!(traces.len() > 1000, "only {} requests", traces.len());
    assert_eq!(failed(&traces), Vec::<String>::new());
    let versions: std::collections::BTreeSet<&str> =
        traces.iter().filter_map(|t| t.version.as_deref()).collect();
    assert_eq!(
        versions.into_iter().collect::<Vec<_>>(),
        ["v1", "v2"],
        "both releases answered during the deploy"
    );
    for host in &apps {
        assert_eq!(
            answers(&lab, host),
            ("v2".to_owned(), "v2".to_owned()),
            "{host}"
        );
    }
    let record = state(&lab);
    assert!(
        record
            .topology
            .hosts
            .iter()
            .filter_map(|h| h.app_server())
            .all(|a| a.release == "v2")
    );
    let report = std::fs::read_to_string(&report).expect("report");
    assert!(report.contains("**Completed**"), "{report}");
    // Deploying the release that runs changes nothing.
    let again = lab.cli_exits(0, &["deploy", &lab.name, "v2"]);
    assert!(again.contains("runs v2 already"), "{again}");
}

/// v2-broken is rolled back from the canary; the other host is never
/// touched; a page through the load balancer answers v1 from each host.
#[test]
fn a_broken_release_is_rolled_back_and_every_host_answers_v1() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-op-broken");
    let traffic = Background::start(&state(&lab), 100.0, 10, 600.0);
    std::thread::sleep(Duration::from_secs(1));
    let (code, out) = lab.cli(&[
        "deploy",
        &lab.name,
        "v2-broken",
        "--canary",
        "web-02",
        "--pause",
        "2",
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("web-02 fails its health check"), "{out}");
    assert!(out.contains("rolled back 1 host(s)"), "{out}");
    assert!(!out.contains("web-01 switched"), "{out}");
    std::thread::sleep(Duration::from_secs(1));
    let (_, traces) = traffic.stop();
    assert_eq!(failed(&traces), Vec::<String>::new());
    assert!(
        !traces
            .iter()
            .any(|t| t.version.as_deref() == Some("v2-broken")),
        "the broken release never answered a client"
    );
    for host in ["web-01", "web-02"] {
        assert_eq!(answers(&lab, host), ("v1".to_owned(), "v1".to_owned()));
    }
    let url = &lab.entry_urls()[0];
    let c = client();
    for _ in 0..4 {
        let r = http(&c, url, None).expect("answer");
        assert_eq!(r.header("x-topolab-version"), "v1");
        assert!(!r.body.contains("release"), "{}", r.body);
    }
}

/// The orchestrator refuses to run on a lab whose failover is manual, and
/// says how to turn it on.
#[test]
fn the_orchestrator_needs_an_automatic_policy() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("one-server", "e2e-op-manual");
    let out = lab.cli_exits(1, &["orchestrator", &lab.name, "--seconds", "1"]);
    assert!(out.contains("failover is manual"), "{out}");
    assert!(out.contains("failover: automatic"), "{out}");
}
