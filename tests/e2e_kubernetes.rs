//! End-to-end: the Kubernetes bundle of `reference`, read back and started
//! pod by pod on plain Docker (no fixed addresses; Services are network
//! aliases, ConfigMaps and Secrets files). The pods must serve as the lab
//! does, and HAProxy must follow a pod that comes back at a new address
//! through DNS. Skipped with a message when no engine is reachable, unless
//! `TOPOLAB_E2E=require` (CI).

mod support;
use support::Bounded;

use std::collections::BTreeSet;
use std::time::Duration;

use support::kube::PodsOnDocker;
use support::lab::{apps_answering, client, docker, eventually, http, leftovers};

const LAB: &str = "e2e-k8s";

#[test]
fn the_exported_pods_serve_and_haproxy_follows_a_pod_to_its_new_address() {
    let Some(_docker) = docker() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = dir.path().join("k8s");
    let out = support::kube::export("reference", &bundle, &["--flavor", "mariadb"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    {
        let mut pods = PodsOnDocker::new(&bundle, LAB, "cluster.local");
        pods.start_all();
        let port = pods.entry_ports["lb-01-entry"];
        let url = format!("http://127.0.0.1:{port}");
        let both: BTreeSet<String> = ["web-01/app", "web-02/app"].map(str::to_owned).into();

        // Round robin over both pods, which HAProxy found by name.
        let served = eventually(Duration::from_secs(60), || {
            let seen = apps_answering(&url, 6);
            (seen == both).then_some(seen)
        });
        assert!(
            served.is_some(),
            "the load balancer never reached both apps: {:?}\n{}",
            apps_answering(&url, 6),
            pods.logs("topolab-e2e-k8s-lb-01-0-lb")
        );

        // Every container's readiness probe passes.
        for set in ["lb-01", "web-01", "web-02"] {
            let unready = eventually(Duration::from_secs(30), || {
                let u = pods.unready(set);
                u.is_empty().then_some(())
            });
            assert!(unready.is_some(), "{set}: {:?}", pods.unready(set));
        }

        // A write through the load balancer, read back (from the replica,
        // which replicates from its primary by name).
        let c = client();
        let value = format!("k8s-{}", std::process::id());
        let write = eventually(Duration::from_secs(30), || {
            let r = http(
                &c,
                &format!("{url}/api/items"),
                Some(serde_json::json!({ "value": value })),
            )
            .ok()?;
            (r.status < 300).then_some(r)
        })
        .unwrap_or_else(|| {
            panic!(
                "no write succeeded: {}",
                pods.logs("topolab-e2e-k8s-web-01-0-app")
            )
        });
        assert_eq!(write.header("x-topolab-db"), "web-01/db", "{write:?}");
        let read = eventually(Duration::from_secs(30), || {
            let r = http(&c, &format!("{url}/api/items"), None).ok()?;
            (r.header("x-topolab-db") == "web-02/db" && r.body.contains(&value)).then_some(r)
        });
        assert!(
            read.is_some(),
            "the write was never read back from the replica: {}",
            pods.logs("topolab-e2e-k8s-web-02-0-db")
        );

        // web-01's pod dies and comes back at another address (a pod
        // started first takes the old one, as in a busy cluster).
        let before = pods.address("web-01");
        pods.kill("web-01");
        let squatter = std::process::Command::new("docker")
            .args(["run", "-d", "--label", &format!("topolab.lab={LAB}")])
            .args(["--network", &format!("topolab-{LAB}-pods")])
            .args(["topolab-base:bookworm", "sleep", "infinity"])
            .bounded()
            .expect("docker");
        assert!(squatter.status.success());
        let only_two = eventually(Duration::from_secs(20), || {
            let seen = apps_answering(&url, 4);
            (seen == BTreeSet::from(["web-02/app".to_owned()])).then_some(())
        });
        assert!(
            only_two.is_some(),
            "web-02 alone should answer while web-01 is gone"
        );
        pods.start("web-01");
        let after = pods.address("web-01");
        assert_ne!(before, after, "the pod came back at its old address");
        let back = eventually(Duration::from_secs(30), || {
            let seen = apps_answering(&url, 6);
            (seen == both).then_some(seen)
        });
        assert!(
            back.is_some(),
            "HAProxy did not follow web-01 from {before} to {after}: {:?}\n{}",
            apps_answering(&url, 6),
            pods.logs("topolab-e2e-k8s-lb-01-0-lb")
        );
    }
    assert_eq!(leftovers(LAB), (0, 0, 0), "the pods left something behind");
}
