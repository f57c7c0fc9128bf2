//! The command line's contract: exit codes, JSON shape, export behaviour.

mod support;

use std::process::Command;

use support::{run, tool, topolab};

fn code(cmd: &mut Command) -> Option<i32> {
    cmd.output().expect("topolab runs").status.code()
}

#[test]
fn check_reference_json_lists_exactly_the_six_known_issues() {
    let (ok, out, err) =
        run(topolab().args(["check", "presets/reference.ron", "--format", "json"]));
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(v["problems"], serde_json::json!([]));
    let findings = v["findings"].as_array().expect("findings");
    let mut ids: Vec<&str> = findings.iter().filter_map(|f| f["id"].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "monitoring-none",
            "security-no-segmentation",
            "security-no-tls",
            "spof-dns",
            "spof-load-balancer",
            "spof-primary-database",
            "spof-single-region"
        ]
    );
    for f in findings {
        for field in [
            "id",
            "category",
            "severity",
            "subjects",
            "title",
            "explanation",
            "fix",
        ] {
            assert!(!f[field].is_null(), "finding without {field}: {f}");
        }
    }
    let lb = findings
        .iter()
        .find(|f| f["id"] == "spof-load-balancer")
        .expect("lb");
    assert_eq!(lb["subjects"], serde_json::json!(["lb-01/lb"]));
    assert_eq!(lb["category"], "spof");
}

#[test]
fn check_accepts_preset_names_and_exits_0_with_findings() {
    for p in topolab::preset::PRESETS {
        assert_eq!(
            code(topolab().args(["check", p.name])),
            Some(0),
            "{}",
            p.name
        );
    }
}

#[test]
fn unreadable_input_and_bad_command_lines_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        code(topolab().args(["check", "/nonexistent/topology.ron"])),
        Some(2)
    );
    assert_eq!(code(topolab().arg("check").arg(dir.path())), Some(2));
    assert_eq!(code(topolab().args(["check"])), Some(2));
    assert_eq!(
        code(topolab().args(["check", "reference", "--format", "yaml"])),
        Some(2)
    );
    assert_eq!(code(topolab().args(["frobnicate"])), Some(2));
    assert_eq!(code(topolab().args(["export", "reference", ""])), Some(2));
    let (_, _, err) = run(topolab().args(["check", "/nonexistent/topology.ron"]));
    assert!(
        err.contains("cannot read /nonexistent/topology.ron"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn a_file_without_read_permission_exits_2() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let file = dir.path().join("private.ron");
    std::fs::write(&file, include_str!("../presets/reference.ron")).expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let mut cmd = if std::fs::read(&file).is_ok() {
        // Root reads any file: run topolab as nobody, for whom it is unreadable.
        let Some(setpriv) = tool("setpriv") else {
            return;
        };
        let mut cmd = Command::new(setpriv);
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_topolab"));
        cmd
    } else {
        topolab()
    };
    let out = cmd.arg("check").arg(&file).output().expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
}

#[test]
fn presets_lists_each_preset_with_a_description() {
    let (ok, out, _) = run(topolab().arg("presets"));
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), topolab::preset::PRESETS.len());
    for (line, p) in lines.iter().zip(topolab::preset::PRESETS) {
        assert!(line.starts_with(p.name), "{line}");
        assert!(line.len() > p.name.len() + 10, "no description: {line}");
    }
}

#[test]
fn export_writes_a_bundle_that_haproxy_and_nginx_accept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("x");
    let (ok, _, err) = run(topolab()
        .args(["export", "presets/reference.ron"])
        .arg(&out));
    assert!(ok, "{err}");
    for f in [
        "README.md",
        "docker-compose.yml",
        ".env",
        "lb-01/haproxy.cfg",
        "web-01/nginx.conf",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [".env", "secrets/db_root_password", "secrets/admin_token"] {
            let mode = std::fs::metadata(out.join(f))
                .expect(f)
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{f} is readable by others: {mode:o}");
        }
    }
    let readme = std::fs::read_to_string(out.join("README.md")).expect("readme");
    assert!(readme.contains("docker-compose up -d"), "{readme}");
    if let Some(haproxy) = tool("haproxy") {
        let (ok, o, e) = run(Command::new(haproxy)
            .arg("-c")
            .arg("-f")
            .arg(out.join("lb-01/haproxy.cfg")));
        assert!(ok, "{o}{e}");
    }
    if let Some(nginx) = tool("nginx") {
        for h in ["web-01", "web-02"] {
            let (ok, o, e) = run(Command::new(&nginx)
                .arg("-t")
                .arg("-c")
                .arg(out.join(format!("{h}/nginx.conf"))));
            assert!(ok, "{o}{e}");
        }
    }
    // Two exports get different secrets.
    let other = dir.path().join("y");
    assert!(run(topolab().args(["export", "reference"]).arg(&other)).0);
    let secret = |d: &std::path::Path| {
        std::fs::read_to_string(d.join("secrets/db_root_password")).expect("secret")
    };
    assert_ne!(secret(&out), secret(&other));
}

#[test]
fn export_refuses_a_non_empty_folder_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("keep.txt"), "mine").expect("write");
    let (ok, _, err) = run(topolab().args(["export", "reference"]).arg(dir.path()));
    assert!(!ok);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        code(topolab().args(["export", "reference"]).arg(dir.path())),
        Some(2)
    );
    assert!(
        !dir.path().join("docker-compose.yml").exists(),
        "wrote into the folder anyway"
    );
    assert_eq!(
        code(
            topolab()
                .args(["export", "reference", "--force"])
                .arg(dir.path())
        ),
        Some(0)
    );
    assert!(dir.path().join("docker-compose.yml").is_file());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("keep.txt")).expect("kept"),
        "mine"
    );
}

#[test]
fn export_of_an_invalid_topology_exits_1_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.ron");
    std::fs::write(&bad, "(version: 1, name: \"t\", hosts: [])").expect("write");
    let out = dir.path().join("out");
    assert_eq!(code(topolab().arg("export").arg(&bad).arg(&out)), Some(1));
    assert!(!out.exists());
    // A target under a file cannot be created: an error, and nothing left behind.
    let under_file = bad.join("out");
    let (ok, _, err) = run(topolab().arg("export").arg("reference").arg(&under_file));
    assert!(!ok);
    assert!(err.contains("is a file") || err.contains("cannot"), "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("bad.ron")]);
}

#[test]
fn help_lists_the_commands() {
    let (ok, out, _) = run(topolab().arg("--help"));
    assert!(ok);
    for command in [
        "gui", "check", "export", "presets", "up", "down", "status", "images", "bench",
    ] {
        assert!(out.contains(command), "{command} missing from:\n{out}");
    }
}

#[test]
fn the_app_without_a_display_says_so() {
    let out = topolab()
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .output()
        .expect("topolab runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no display") && err.contains("topolab --help"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn diagram_writes_svg_or_png_by_the_extension_and_refuses_other_names() {
    let dir = tempfile::tempdir().expect("dir");
    let svg = dir.path().join("reference.svg");
    let (ok, out, err) = run(topolab().args(["diagram", "reference"]).arg(&svg));
    assert!(ok, "{err}");
    assert!(out.contains("wrote the diagram of reference"), "{out}");
    let text = std::fs::read_to_string(&svg).expect("written");
    assert!(text.starts_with("<svg ") && text.contains(">web-02<"));
    let png = dir.path().join("scaled.PNG");
    assert_eq!(
        code(topolab().args(["diagram", "scaled"]).arg(&png)),
        Some(0)
    );
    assert_eq!(&std::fs::read(&png).expect("written")[1..4], b"PNG");
    // Neither format: refused before anything is written.
    let jpg = dir.path().join("reference.jpg");
    let (ok, _, err) = run(topolab().args(["diagram", "reference"]).arg(&jpg));
    assert!(!ok && err.contains("must end in .svg or .png"), "{err}");
    assert!(!jpg.exists());
    // An invalid or unreadable design.
    assert_eq!(
        code(topolab().args(["diagram", "no-such-design"]).arg(&svg)),
        Some(2)
    );
    // A folder that does not exist: 3, and nothing made.
    let lost = dir.path().join("missing/reference.svg");
    assert_eq!(
        code(topolab().args(["diagram", "reference"]).arg(&lost)),
        Some(3)
    );
    assert!(!dir.path().join("missing").exists());
}

/// The tests' own guard against a hung program: it is killed at its limit,
/// and the error names it and keeps what it printed; a program that ends
/// in time gives its whole output.
#[test]
fn a_program_that_hangs_is_killed_and_named() {
    let err = support::output_within(
        Command::new("sh").args(["-c", "echo before; exec sleep 60"]),
        std::time::Duration::from_millis(500),
    )
    .expect_err("sleep 60 outlives half a second");
    assert!(
        err.contains("\"sh\"") && err.contains("was killed"),
        "{err}"
    );
    assert!(err.contains("before"), "{err}");
    let done = support::output_within(
        Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
        std::time::Duration::from_secs(60),
    )
    .expect("sh ends at once");
    assert_eq!(done.status.code(), Some(3));
    assert_eq!(
        (done.stdout.as_slice(), done.stderr.as_slice()),
        (&b"out\n"[..], &b"err\n"[..])
    );
}
