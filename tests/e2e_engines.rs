//! End-to-end: `topolab engines` against two real engines on this machine,
//! the default one and a second `dockerd` the test starts. Outside a
//! swarm both are reported as such; once the second joins the first's
//! swarm (a swarm of one the test makes, and leaves), what it lacks is the
//! lab's images, which `--copy-images` copies through the engines' APIs;
//! then nothing is missing and the design's hosts are placed on both.
//! Skipped with a message when no engine is reachable, unless
//! `TOPOLAB_E2E=require` (CI).

mod support;
use support::Bounded;

use support::lab::docker;
use support::swarm::{SecondEngine, Swarm, docker_at};
use support::topolab;

fn engines(args: &[&str]) -> (Option<i32>, String) {
    let out = topolab()
        .arg("engines")
        .args(args)
        .bounded()
        .expect("topolab runs");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn two_engines_are_checked_given_the_images_and_share_a_design() {
    let Some(_docker) = docker() else {
        return;
    };
    let Some(dockerd) = support::tool("dockerd") else {
        return;
    };
    let main =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned());
    let second = SecondEngine::start(&dockerd);
    let a = format!("a={main}");
    let b = format!("b={}", second.url);
    let args = ["reference", "--engine", &a, "--engine", &b];

    if support::swarm::swarm_state() == "inactive" {
        let (code, out) = engines(&args);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("a is not in a swarm (inactive)"), "{out}");
        assert!(out.contains("b is not in a swarm (inactive)"), "{out}");
    }

    let swarm = Swarm::ensure();
    let (ok, joined) = docker_at(
        Some(&second.url),
        &[
            "swarm",
            "join",
            "--token",
            &Swarm::worker_token(),
            "--advertise-addr",
            "127.0.0.1",
            "--listen-addr",
            "127.0.0.1:2378",
            "127.0.0.1:2377",
        ],
    );
    assert!(
        ok,
        "the second engine did not join: {joined}\n{}",
        second.log()
    );

    let (code, out) = engines(&args);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("swarm manager"), "{out}");
    assert!(out.contains("swarm worker"), "{out}");
    assert!(out.contains("b lacks"), "{out}");
    assert!(!out.contains("a lacks"), "{out}");

    let (code, out) = engines(&["reference", "--engine", &a, "--engine", &b, "--copy-images"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("copying topolab-base:bookworm from a to b"),
        "{out}"
    );
    assert!(!out.contains("missing:"), "{out}");
    let (present, _) = docker_at(
        Some(&second.url),
        &["image", "inspect", "topolab-base:bookworm"],
    );
    assert!(
        present,
        "the second engine has no base image after the copy"
    );
    // Both engines carry hosts of the design.
    let placed: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("placement of reference"))
        .skip(1)
        .collect();
    assert_eq!(placed.len(), 2, "{out}");
    assert!(placed.iter().all(|l| !l.contains("no host")), "{out}");

    drop(second);
    drop(swarm);
    // The first engine's default bridge is still there (an engine
    // started beside it with `--bridge none` would delete it).
    let (ok, _) = docker_at(None, &["run", "--rm", "topolab-base:bookworm", "true"]);
    assert!(
        ok,
        "the first engine cannot start a container on its default bridge"
    );
}
