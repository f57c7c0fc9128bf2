//! End-to-end: real Docker, real HAProxy, Nginx, MariaDB and the app server
//! (local image profile). Skipped with a message when no engine is
//! reachable, unless `TOPOLAB_E2E=require` (CI).

mod support;
use support::Bounded;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use support::lab::{Lab, client, docker, eventually, free_port, http, leftovers};
use support::topolab;

/// Which app served each of `n` GETs of `url`.
fn served_by(url: &str, n: usize) -> HashMap<String, usize> {
    let c = client();
    let mut counts = HashMap::new();
    for _ in 0..n {
        let r = http(&c, url, None).expect("request");
        assert_eq!(r.status, 200, "{r:?}");
        *counts
            .entry(r.header("x-topolab-app").to_owned())
            .or_default() += 1;
    }
    counts
}

#[test]
fn reference_round_robin_and_replication() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-ref");
    assert!(
        lab.stdout.contains("runs mariadb in its place"),
        "{}",
        lab.stdout
    );
    let url = lab.entry_urls().first().cloned().expect("an entry point");

    let counts = served_by(&url, 20);
    assert_eq!(counts.get("web-01/app"), Some(&10), "{counts:?}");
    assert_eq!(counts.get("web-02/app"), Some(&10), "{counts:?}");

    // A write through web-01's app, read back through web-02's app from
    // the replica.
    let c = client();
    let value = format!("written-{}", std::process::id());
    let write = eventually(Duration::from_secs(5), || {
        let r = http(
            &c,
            &format!("{url}/api/items"),
            Some(serde_json::json!({ "value": value })),
        )
        .ok()?;
        (r.header("x-topolab-app") == "web-01/app").then_some(r)
    })
    .expect("a write through web-01");
    assert_eq!(write.status, 201, "{write:?}");
    assert_eq!(write.header("x-topolab-db"), "web-01/db");
    assert_eq!(write.header("x-topolab-lb"), "lb-01");
    let read = eventually(Duration::from_secs(5), || {
        let r = http(&c, &format!("{url}/api/items"), None).ok()?;
        (r.header("x-topolab-app") == "web-02/app" && r.body.contains(&value)).then_some(r)
    })
    .expect("the write read back through web-02");
    assert_eq!(read.header("x-topolab-db"), "web-02/db", "{read:?}");
    assert_eq!(read.header("x-topolab-web"), "web-02");

    // The replica's threads run, as the server itself reports.
    let (code, out) = lab.exec(
        "topolab-e2e-ref-web-02-db",
        &["mariadb", "-uroot", "-e", "SHOW SLAVE STATUS\\G"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Slave_IO_Running: Yes") && out.contains("Slave_SQL_Running: Yes"),
        "{out}"
    );
    let status = lab.run(&["status", "e2e-ref"]);
    let status_text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success());
    assert!(
        status_text.contains("replica of web-01 (replication running)"),
        "{status_text}"
    );
    assert!(
        status_text.contains("web-01/db") && status_text.contains("primary"),
        "{status_text}"
    );

    // Secrets are random per lab and stay out of the configs.
    let state = lab.state();
    let password = state["secrets"]["app_password"]
        .as_str()
        .expect("password")
        .to_owned();
    assert_eq!(password.len(), 24);
    let (_, cnf) = lab.exec(
        "topolab-e2e-ref-web-01-app",
        &["cat", "/etc/topolab/app.json"],
    );
    assert!(!cnf.contains(&password));
}

#[test]
fn the_other_presets_come_up_and_answer() {
    let Some(_docker) = docker() else { return };
    for preset in ["one-server", "scaled"] {
        let lab = Lab::up(preset, &format!("e2e-{preset}"));
        let urls = lab.entry_urls();
        assert_eq!(
            urls.len(),
            if preset == "scaled" { 2 } else { 1 },
            "{}",
            lab.stdout
        );
        for url in urls {
            let r = http(&client(), &url, None).expect("request");
            assert_eq!(r.status, 200, "{preset}: {r:?}");
        }
        if preset == "scaled" {
            let counts = served_by(&lab.entry_urls()[0], 30);
            for web in ["web-01/app", "web-02/app", "web-03/app"] {
                assert_eq!(counts.get(web), Some(&10), "{counts:?}");
            }
        }
    }
    // Active-passive: the backup serves nothing while web-01 is up.
    let lab = Lab::up("active-passive", "e2e-ap");
    let counts = served_by(&lab.entry_urls()[0], 20);
    assert_eq!(counts.get("web-01/app"), Some(&20), "{counts:?}");
    assert_eq!(counts.get("web-02/app"), None, "{counts:?}");
}

#[test]
fn secured_lab_keeps_the_lb_off_the_databases_and_answers_https() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("secured-monitored", "e2e-sec");
    let https = lab
        .https_urls()
        .first()
        .cloned()
        .expect("an https entry point");
    let cert = lab.state()["secrets"]["tls_cert_pem"]
        .as_str()
        .expect("cert")
        .to_owned();
    let verifying = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).expect("pem"))
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client");
    let r = http(&verifying, &https, None).expect("HTTPS with the lab's certificate");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("x-topolab-lb"), "lb-01");

    // Every address of every database host, on every network.
    let first: std::net::Ipv4Addr = lab.state()["first_subnet"]
        .as_str()
        .expect("subnet")
        .parse()
        .expect("ip");
    let topology = topolab::preset::Preset::find("secured-monitored")
        .expect("preset")
        .topology()
        .expect("valid");
    let plan = topolab::model::AddressPlan::new(&topology, first);
    let tcp = |container: &str, ip: std::net::Ipv4Addr| {
        lab.exec(
            container,
            &[
                "timeout",
                "2",
                "bash",
                "-c",
                &format!("</dev/tcp/{ip}/3306"),
            ],
        )
        .0
    };
    for db_host in ["web-01", "web-02"] {
        for (net, ip) in plan.host_addresses(&topolab::model::HostName::new(db_host)) {
            assert_ne!(
                tcp("topolab-e2e-sec-lb-01", ip),
                0,
                "the LB reached {db_host}'s port 3306 on {net:?} ({ip})"
            );
        }
    }
    // The check can succeed: web-02 (back network) reaches web-01's database.
    let back = plan
        .address(
            &topolab::model::HostName::new("web-01"),
            topolab::model::Network::Back,
        )
        .expect("back address");
    assert_eq!(
        tcp("topolab-e2e-sec-web-02", back),
        0,
        "web-02 cannot reach web-01/db"
    );
    // Prometheus answers on the lab network.
    let (code, out) = lab.exec(
        "topolab-e2e-sec-monitoring",
        &["curl", "-fsS", "http://127.0.0.1:9090/-/ready"],
    );
    assert_eq!(code, 0, "{out}");
}

#[test]
fn down_removes_one_lab_and_leaves_the_other() {
    let Some(_docker) = docker() else { return };
    let a = Lab::up("reference", "e2e-a");
    let b = Lab::up("one-server", "e2e-b");
    let before = leftovers("e2e-b");
    assert!(before.0 >= 4, "{before:?}");
    let out = a.run(&["down", "e2e-a"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(leftovers("e2e-a"), (0, 0, 0));
    assert_eq!(leftovers("e2e-b"), before);
    let r = http(&client(), &b.entry_urls()[0], None).expect("request");
    assert_eq!(r.status, 200);
    assert!(
        !a.run(&["status", "e2e-a"]).status.success(),
        "status of a removed lab exits 1"
    );
    drop(b);
    assert_eq!(leftovers("e2e-b"), (0, 0, 0));
}

#[test]
fn a_launch_interrupted_midway_leaves_nothing() {
    let Some(_docker) = docker() else { return };
    let data = tempfile::tempdir().expect("dir");
    let child = topolab()
        .args(["up", "reference", "--name", "e2e-cancel"])
        .env("TOPOLAB_DATA_DIR", data.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let midway = eventually(Duration::from_secs(60), || {
        (leftovers("e2e-cancel").0 >= 3).then_some(())
    });
    assert!(midway.is_some(), "the launch never created containers");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert!(
        !out.status.success(),
        "an interrupted launch reported success"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cancel"), "{stderr}");
    assert_eq!(leftovers("e2e-cancel"), (0, 0, 0));
    assert!(
        !data.path().join("labs/e2e-cancel.json").exists(),
        "state left behind"
    );
}

#[test]
fn a_pinned_port_that_is_taken_fails_clearly_and_leaves_nothing() {
    let Some(_docker) = docker() else { return };
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let text = include_str!("../presets/reference.ron").replace(
        "redispatch: true,",
        &format!("redispatch: true, published_port: {port},"),
    );
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("pinned.ron");
    std::fs::write(&file, text).expect("write");
    let out = topolab()
        .arg("up")
        .arg(&file)
        .args(["--name", "e2e-port"])
        .env("TOPOLAB_DATA_DIR", dir.path())
        .bounded()
        .expect("topolab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("port {port}")) && stderr.contains("not free"),
        "{stderr}"
    );
    assert_eq!(leftovers("e2e-port"), (0, 0, 0));
}

#[test]
fn the_exported_bundle_runs_with_docker_compose() {
    let Some(_docker) = docker() else { return };
    let Some(compose) = support::tool("docker-compose") else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let bundle = dir.path().join("bundle");
    let out = topolab()
        .args(["export", "reference", "--flavor", "mariadb"])
        .arg(&bundle)
        .bounded()
        .expect("export");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let run = |args: &[&str]| {
        Command::new(&compose)
            .args(args)
            .current_dir(&bundle)
            .env("COMPOSE_PROJECT_NAME", "topolab-e2e-compose")
            .env("TOPOLAB_HTTP_PORT_LB_01", port.to_string())
            .bounded()
            .expect("docker-compose")
    };
    struct Down<'a>(&'a dyn Fn(&[&str]) -> std::process::Output);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["down", "-v", "--timeout", "1"]);
        }
    }
    let _down = Down(&run);
    let up = run(&["up", "-d"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let c = client();
    let reply = eventually(Duration::from_secs(90), || {
        http(&c, &format!("http://127.0.0.1:{port}/"), None)
            .ok()
            .filter(|r| r.status == 200)
    })
    .expect("the compose lab answers through its load balancer");
    assert_eq!(reply.header("x-topolab-lb"), "lb-01");
    assert!(reply.body.contains("Hello from web-0"), "{reply:?}");
}
