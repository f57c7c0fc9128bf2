//! End-to-end: a lab on overlays of a swarm. The test makes this engine a
//! swarm of one when it is not in one, and leaves it as it found it. The
//! reference design on attachable overlays, with the same fixed addresses
//! as on bridges, must answer with round robin, take a fault and its heal,
//! take a new replica by `apply` (read through the forwarder), promote its
//! replica, and leave nothing labelled behind. Skipped with a
//! message when no engine is reachable, unless `TOPOLAB_E2E=require` (CI).

mod support;
use support::Bounded;

use std::collections::BTreeSet;
use std::time::Duration;

use support::lab::{Lab, apps_answering, client, docker, eventually, http, leftovers};
use support::swarm::{Swarm, docker_at, swarm_state};
use topolab::model::{Component, Database, Host, HostName, Role};

const LAB: &str = "e2e-ov";

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn the_reference_lab_runs_on_overlays_of_a_swarm() {
    let Some(_docker) = docker() else {
        return;
    };
    if swarm_state() == "inactive" {
        // Without a swarm, --overlay says what is missing and makes nothing.
        let data = tempfile::tempdir().expect("data dir");
        let out = support::topolab()
            .env("TOPOLAB_DATA_DIR", data.path())
            .args(["up", "reference", "--name", "e2e-ov-no", "--overlay"])
            .bounded()
            .expect("topolab runs");
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("docker swarm init"), "{text}");
        assert_eq!(leftovers("e2e-ov-no"), (0, 0, 0));
    } else {
        eprintln!("this engine is in a swarm already: the refusal without one is not checked");
    }
    let swarm = Swarm::ensure();
    {
        let lab = Lab::up_with("reference", LAB, &["--overlay"]);
        let (_, driver) = docker_at(
            None,
            &[
                "network",
                "inspect",
                "-f",
                "{{.Driver}} {{.Attachable}}",
                &format!("topolab-{LAB}-lab"),
            ],
        );
        assert_eq!(driver, "overlay true");
        assert_eq!(lab.state()["network_driver"], "overlay");
        let status = lab.cli_exits(0, &["status", LAB]);
        assert!(
            status.contains("overlays of this engine's swarm"),
            "{status}"
        );
        // The same fixed address as on a bridge.
        let (_, ip) = docker_at(
            None,
            &[
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                &format!("topolab-{LAB}-web-01"),
            ],
        );
        let state = lab.state();
        let number = state["numbers"]["web-01"]
            .as_u64()
            .expect("web-01's number");
        let subnet = state["first_subnet"].as_str().expect("first subnet");
        let planned = format!(
            "{}.{}",
            subnet.rsplit_once('.').expect("an address").0,
            10 + number
        );
        assert_eq!(ip, planned, "web-01 is not at its planned address");

        let url = lab.entry_urls()[0].clone();
        let both = set(&["web-01/app", "web-02/app"]);
        assert_eq!(apps_answering(&url, 6), both);

        // A fault and its heal.
        lab.cli_exits(0, &["fault", LAB, "web-01", "kill"]);
        let alone = eventually(Duration::from_secs(10), || {
            (apps_answering(&url, 4) == set(&["web-02/app"])).then_some(())
        });
        assert!(alone.is_some(), "web-02 should serve alone");
        lab.cli_exits(0, &["heal", LAB, "web-01"]);
        let back = eventually(Duration::from_secs(30), || {
            (apps_answering(&url, 6) == both).then_some(())
        });
        assert!(
            back.is_some(),
            "web-01 did not come back: {:?}",
            apps_answering(&url, 6)
        );

        // apply: a new replica on a new host. This machine has no leg on
        // the overlay, so `status` reads it through the forwarder, which
        // publishes a port for it.
        let mut design = topolab::preset::Preset::find("reference")
            .expect("preset")
            .topology()
            .expect("valid");
        design
            .hosts
            .push(Host::new("db-03").with([Component::Db(Database {
                role: Role::Replica {
                    of: HostName::new("web-01"),
                },
                ..Database::default()
            })]));
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("with-db-03.ron");
        std::fs::write(&file, topolab::preset::to_ron(&design).expect("ron")).expect("write");
        let applied = lab.cli_exits(0, &["apply", LAB, file.to_str().expect("path")]);
        assert!(
            applied.contains("db-03's database is reached at 127.0.0.1:"),
            "{applied}"
        );
        assert!(
            lab.state()["reach_ports"]["db-03"].is_u64(),
            "no port for db-03"
        );
        let replicating = |s: &String| {
            s.lines()
                .any(|l| l.contains("db-03/db replication: IO Yes, SQL Yes"))
        };
        let status = eventually(Duration::from_secs(30), || {
            Some(lab.cli_exits(0, &["status", LAB])).filter(replicating)
        })
        .unwrap_or_else(|| lab.cli_exits(0, &["status", LAB]));
        assert!(replicating(&status), "{status}");

        // Promotion: writes go to web-02's database.
        lab.cli_exits(0, &["promote", LAB, "web-02", "--planned"]);
        let c = client();
        let write = eventually(Duration::from_secs(20), || {
            let r = http(
                &c,
                &format!("{url}/api/items"),
                Some(serde_json::json!({ "value": "on-an-overlay" })),
            )
            .ok()?;
            (r.status < 300 && r.header("x-topolab-db") == "web-02/db").then_some(r)
        });
        assert!(write.is_some(), "no write reached the promoted web-02");

        lab.cli_exits(0, &["down", LAB]);
        assert_eq!(leftovers(LAB), (0, 0, 0), "down left something");
    }
    drop(swarm);
    assert_eq!(leftovers(LAB), (0, 0, 0));
}
