//! End-to-end: one lab over two engines of a swarm. The second engine is
//! a `dockerd` in a network namespace of its own (its own bridge, iptables
//! and VXLAN endpoint, as another machine has), joined to a swarm the test
//! makes of this machine's engine, and left again. The reference design,
//! launched with `--engine` twice, must copy its images to the second
//! engine, run hosts on both, answer with round robin over the overlay,
//! show each host's engine and its replication in `status`, take a fault
//! on the second engine's host and a promotion of the replica, show that
//! host as "down: engine unreachable" while its engine does not answer
//! (and refuse `down` then, removing nothing), and leave nothing labelled
//! on either engine. Skipped with a message when no engine is
//! reachable, unless `TOPOLAB_E2E=require` (CI).

mod support;
use support::Bounded;

use std::collections::BTreeSet;
use std::time::Duration;

use support::lab::{Lab, apps_answering, client, docker, eventually, http, leftovers};
use support::swarm::{HOST_ADDR, SecondNode, Swarm, docker_at};

const LAB: &str = "e2e-span";

/// The names of the lab's containers and of its volumes on the engine at
/// `url`.
fn on_engine(url: &str, lab: &str) -> (Vec<String>, Vec<String>) {
    let names = |args: &[&str]| {
        let filter = format!("label=topolab.lab={lab}");
        let mut all = args.to_vec();
        all.extend(["--filter", &filter]);
        let (ok, out) = docker_at(Some(url), &all);
        assert!(ok, "{out}");
        let mut names: Vec<String> = out
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    };
    (
        names(&["ps", "-a", "--format", "{{.Names}}"]),
        names(&["volume", "ls", "--format", "{{.Name}}"]),
    )
}

#[test]
fn one_lab_runs_over_two_engines_of_a_swarm() {
    let Some(_docker) = docker() else {
        return;
    };
    let (Some(dockerd), Some(nsenter)) = (support::tool("dockerd"), support::tool("nsenter"))
    else {
        return;
    };
    let main =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned());
    let node = SecondNode::start(&dockerd, &nsenter);
    let Some(swarm) = Swarm::init_at(HOST_ADDR) else {
        let required = std::env::var("TOPOLAB_E2E").is_ok_and(|v| v == "require");
        assert!(
            !required,
            "this engine is in a swarm already: the two-node lab cannot be made here"
        );
        eprintln!("SKIP: this engine is in a swarm already; the two-node lab did not run");
        return;
    };
    node.join();
    let a = format!("a={main}");
    let b = format!("b={}", node.url);
    {
        // The first engine is the lab's home: a worker cannot be.
        let data = tempfile::tempdir().expect("data dir");
        let out = support::topolab()
            .env("TOPOLAB_DATA_DIR", data.path())
            .args(["up", "reference", "--name", "e2e-span-no"])
            .args(["--engine", &b, "--engine", &a])
            .bounded()
            .expect("topolab runs");
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("b is a worker"), "{text}");
        assert_eq!(leftovers("e2e-span-no"), (0, 0, 0));
        let (containers, volumes) = on_engine(&node.url, "e2e-span-no");
        assert!(containers.is_empty() && volumes.is_empty());
    }
    {
        let lab = Lab::up_with("reference", LAB, &["--engine", &a, "--engine", &b]);
        let up = &lab.stdout;
        // The images went to the second engine through the engines' APIs.
        assert!(up.contains("to engine b"), "{up}");
        let state = lab.state();
        let placement = state["placement"].as_object().expect("a placement");
        assert_eq!(placement["lb-01"], "a", "the entry point runs at home");
        let on_b: Vec<&str> = placement
            .iter()
            .filter(|(_, e)| *e == "b")
            .map(|(h, _)| h.as_str())
            .collect();
        let on_a: Vec<&str> = placement
            .iter()
            .filter(|(h, e)| *e == "a" && h.as_str() != "lb-01")
            .map(|(h, _)| h.as_str())
            .collect();
        assert_eq!((on_a.len(), on_b.len()), (1, 1), "{placement:?}");
        let (far, near) = (on_b[0], on_a[0]);
        // The far host's containers and volumes are on the second engine,
        // and only they.
        let (containers, volumes) = on_engine(&node.url, LAB);
        let prefix = format!("topolab-{LAB}-{far}");
        assert_eq!(
            containers,
            ["", "-app", "-db", "-nginx"].map(|s| format!("{prefix}{s}")),
            "{far}: its holder and components"
        );
        assert!(
            !volumes.is_empty() && volumes.iter().all(|v| v.starts_with(&format!("{prefix}-"))),
            "{volumes:?}"
        );
        for line in [
            format!("engine a (home): lb-01, {near}"),
            format!("engine b: {far}"),
        ] {
            assert!(up.contains(&line), "{line}\n{up}");
        }

        // Round robin over the overlay, between the engines.
        let url = lab.entry_urls()[0].clone();
        let both: BTreeSet<String> = [format!("{near}/app"), format!("{far}/app")].into();
        let all = eventually(Duration::from_secs(30), || {
            (apps_answering(&url, 6) == both).then_some(())
        });
        assert!(all.is_some(), "{:?}", apps_answering(&url, 6));

        // status: where each host runs, and the replica's replication,
        // read from this machine through the lab's forwarder.
        let status = eventually(Duration::from_secs(30), || {
            let s = lab.cli_exits(0, &["status", LAB]);
            s.contains("replication: IO Yes, SQL Yes").then_some(s)
        })
        .unwrap_or_else(|| lab.cli_exits(0, &["status", LAB]));
        assert!(
            status.contains("overlays of the engines' swarm"),
            "{status}"
        );
        assert!(status.contains(&format!("engine b: {far}")), "{status}");
        assert!(status.contains("replication: IO Yes, SQL Yes"), "{status}");

        // A fault and its heal on the far host.
        lab.cli_exits(0, &["fault", LAB, far, "kill"]);
        let alone: BTreeSet<String> = [format!("{near}/app")].into();
        let served = eventually(Duration::from_secs(30), || {
            (apps_answering(&url, 4) == alone).then_some(())
        });
        assert!(served.is_some(), "{near} should serve alone");
        lab.cli_exits(0, &["heal", LAB, far]);
        let back = eventually(Duration::from_secs(30), || {
            (apps_answering(&url, 6) == both).then_some(())
        });
        assert!(back.is_some(), "{far} did not come back");

        // The replica is promoted wherever it runs; writes follow.
        let replica = if far == "web-02" { far } else { near };
        lab.cli_exits(0, &["promote", LAB, replica, "--planned"]);
        let c = client();
        let write = eventually(Duration::from_secs(30), || {
            let r = http(
                &c,
                &format!("{url}/api/items"),
                Some(serde_json::json!({ "value": "over-two-engines" })),
            )
            .ok()?;
            (r.status < 300 && r.header("x-topolab-db") == format!("{replica}/db")).then_some(r)
        });
        assert!(write.is_some(), "no write reached the promoted {replica}");

        // An engine that does not answer: its host is down for that reason,
        // and `down` removes nothing until it answers.
        node.freeze(true);
        let (code, cut) = lab.cli(&["status", LAB]);
        let (down_code, refused) = lab.cli(&["down", LAB]);
        node.freeze(false);
        assert_eq!(code, Some(0), "{cut}");
        assert!(cut.contains("engine b (unix://"), "{cut}");
        assert!(
            cut.lines().any(|l| l.trim_start().starts_with(far)
                && l.contains("down: engine unreachable (engine b)")),
            "{cut}"
        );
        assert_eq!(down_code, Some(1), "{refused}");
        assert!(refused.contains("engine b does not answer"), "{refused}");
        assert_eq!(lab.state()["placement"]["lb-01"], "a", "the record stays");
        // Nothing was removed: both hosts still serve (allowing for checks
        // that timed out while the machine was busy with the frozen engine).
        let still = eventually(Duration::from_secs(30), || {
            (apps_answering(&url, 6) == both).then_some(())
        });
        assert!(still.is_some(), "{:?}", apps_answering(&url, 6));

        lab.cli_exits(0, &["down", LAB]);
        assert_eq!(leftovers(LAB), (0, 0, 0), "down left something here");
        let (containers, volumes) = on_engine(&node.url, LAB);
        assert!(
            containers.is_empty() && volumes.is_empty(),
            "down left {containers:?} {volumes:?} on b"
        );
    }
    drop(swarm);
    drop(node);
    assert_eq!(leftovers(LAB), (0, 0, 0));
}
