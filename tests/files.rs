//! Files and paths under misuse: what `check` reads, where `export`
//! writes, and what saving leaves on disk. Each test runs the real binary
//! (or the library's save) against a file system arranged to trap it.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{run, tool, topolab};

/// Exit status of `export` when the bundle could not be written.
const WRITE_FAILED: i32 = 3;

/// Runs `cmd` to its end, killing it (and failing the test) when it has
/// not ended after a minute: a hang is the defect these tests look for,
/// and a hung test must not hang the suite.
fn finish(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("topolab starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("topolab did not finish: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file under `dir` with its bytes, and every link with its target;
/// folders as entries of their own. What a failed export must not change.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let path = e.path();
            let rel = path.strip_prefix(dir).expect("inside").to_owned();
            let kind = e.file_type().expect("type");
            if kind.is_symlink() {
                let target = std::fs::read_link(&path).expect("link");
                out.insert(rel, format!("link -> {}", target.display()));
            } else if kind.is_dir() {
                out.insert(rel, "folder".to_owned());
                stack.push(path);
            } else {
                out.insert(rel, text(&std::fs::read(&path).expect("read")));
            }
        }
    }
    out
}

#[test]
fn a_missing_path_named_like_a_preset_is_unreadable_not_the_preset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("designs/scaled.ron");
    let out = finish(topolab().arg("check").arg(&missing));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot read") && err.contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(!text(&out.stdout).contains("valid topology"));
    // A bare file name is a file too, in whatever folder `check` runs.
    let out = finish(
        topolab()
            .current_dir(dir.path())
            .args(["check", "scaled.ron"]),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = finish(
        topolab()
            .current_dir(dir.path())
            .args(["export", "x/reference.ron", "out"]),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!dir.path().join("out").exists());
    // A bare name, and the presets' own path, still name the preset.
    for arg in ["scaled", "presets/scaled.ron"] {
        let out = finish(topolab().current_dir(dir.path()).args(["check", arg]));
        assert_eq!(out.status.code(), Some(0), "{arg}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("valid topology \"scaled\""));
    }
    // A file wins over a preset of the same bare name.
    std::fs::write(
        dir.path().join("scaled"),
        "(version: 1, name: \"t\", hosts: [])",
    )
    .expect("write");
    let out = finish(topolab().current_dir(dir.path()).args(["check", "scaled"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[cfg(unix)]
#[test]
fn a_fifo_socket_or_device_is_refused_without_waiting() {
    let Some(mkfifo) = tool("mkfifo") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("topology.ron");
    assert!(run(Command::new(mkfifo).arg(&fifo)).0, "mkfifo");
    for cmd in ["check", "export"] {
        let mut c = topolab();
        c.arg(cmd).arg(&fifo);
        if cmd == "export" {
            c.arg(dir.path().join("out"));
        }
        let out = finish(&mut c);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(err.contains("named pipe"), "{cmd}: {err}");
    }
    let socket = dir.path().join("topology.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("socket");
    let out = finish(topolab().arg("check").arg(&socket));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("socket"),
        "{}",
        text(&out.stderr)
    );
    let out = finish(topolab().args(["check", "/dev/zero"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("device"),
        "{}",
        text(&out.stderr)
    );
    // A link to a FIFO is a FIFO.
    let link = dir.path().join("link.ron");
    std::os::unix::fs::symlink(&fifo, &link).expect("symlink");
    let out = finish(topolab().arg("check").arg(&link));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[cfg(unix)]
#[test]
fn export_force_never_writes_through_a_link_inside_the_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    std::fs::write(outside.join("nginx.conf"), "theirs").expect("write");
    let bundle = dir.path().join("bundle");
    std::fs::create_dir(&bundle).expect("mkdir");
    std::os::unix::fs::symlink(&outside, bundle.join("web-01")).expect("symlink");
    let before_outside = snapshot(&outside);
    let before = snapshot(&bundle);
    let out = finish(
        topolab()
            .args(["export", "reference", "--force", "--flavor", "mariadb"])
            .arg(&bundle),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(WRITE_FAILED), "{err}");
    assert!(
        err.contains(&bundle.join("web-01").display().to_string()) && err.contains("link"),
        "{err}"
    );
    assert_eq!(
        snapshot(&outside),
        before_outside,
        "wrote outside the folder"
    );
    assert_eq!(
        snapshot(&bundle),
        before,
        "a refused export changed the folder"
    );
    // A link to a file inside the folder is replaced, its target untouched.
    std::fs::remove_file(bundle.join("web-01")).expect("unlink");
    std::os::unix::fs::symlink(outside.join("nginx.conf"), bundle.join(".env")).expect("symlink");
    let out = finish(
        topolab()
            .args(["export", "reference", "--force", "--flavor", "mariadb"])
            .arg(&bundle),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(snapshot(&outside), before_outside, "wrote through a link");
    assert!(
        !std::fs::symlink_metadata(bundle.join(".env"))
            .expect(".env")
            .file_type()
            .is_symlink()
    );
}

#[cfg(unix)]
/// Runs `topolab ARGS` as the unprivileged user `nobody` when the tests run
/// as root (for whom no permission stops a write); `None` when that is not
/// possible here.
fn unprivileged(args: &[&std::ffi::OsStr]) -> Option<Command> {
    let probe = tempfile::tempdir().expect("tempdir");
    let locked = probe.path().join("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    set_mode(&locked, 0o555);
    let root = std::fs::write(locked.join("x"), "x").is_ok();
    let mut cmd = if root {
        let setpriv = tool("setpriv")?;
        let mut c = Command::new(setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_topolab"));
        c
    } else {
        topolab()
    };
    cmd.args(args);
    Some(cmd)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[cfg(unix)]
fn chown_nobody(path: &Path) {
    // Only root can give files away; as another user they are ours already.
    let _ = std::os::unix::fs::chown(path, Some(65534), Some(65534));
}

#[cfg(unix)]
#[test]
fn a_failed_force_export_leaves_the_old_bundle_whole_and_names_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    set_mode(dir.path(), 0o777);
    let bundle = dir.path().join("bundle");
    let first = finish(
        topolab()
            .args(["export", "reference", "--flavor", "mariadb"])
            .arg(&bundle),
    );
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    std::fs::write(bundle.join("notes.txt"), "mine").expect("write");
    // Hand the bundle to the user the export runs as, but keep web-02's
    // folder out of its reach: the swap fails after several files moved.
    let mut stack = vec![bundle.clone()];
    while let Some(d) = stack.pop() {
        chown_nobody(&d);
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            chown_nobody(&e.path());
            if e.file_type().expect("type").is_dir() {
                stack.push(e.path());
            }
        }
    }
    let locked = bundle.join("web-02");
    let _ = std::os::unix::fs::chown(&locked, Some(0), Some(0));
    set_mode(&locked, 0o555);
    let before = snapshot(&bundle);
    let args = [
        "export".as_ref(),
        "reference".as_ref(),
        "--force".as_ref(),
        "--flavor".as_ref(),
        "mariadb".as_ref(),
        bundle.as_os_str(),
    ];
    let Some(mut cmd) = unprivileged(&args) else {
        return;
    };
    let out = finish(&mut cmd);
    let err = text(&out.stderr);
    set_mode(&locked, 0o755);
    assert_eq!(out.status.code(), Some(WRITE_FAILED), "{err}");
    assert!(
        err.contains(&locked.display().to_string()),
        "the error names no path: {err}"
    );
    assert_eq!(
        snapshot(&bundle),
        before,
        "a failed export changed the bundle"
    );

    // A file where the bundle needs a folder is found before anything moves.
    std::fs::remove_dir_all(bundle.join("web-01")).expect("rm");
    std::fs::write(bundle.join("web-01"), "a file").expect("write");
    let before = snapshot(&bundle);
    let out = finish(
        topolab()
            .args(["export", "reference", "--force", "--flavor", "mariadb"])
            .arg(&bundle),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(WRITE_FAILED), "{err}");
    assert!(
        err.contains(&bundle.join("web-01").display().to_string()),
        "{err}"
    );
    assert_eq!(snapshot(&bundle), before);
}

#[cfg(unix)]
#[test]
fn export_gives_secrets_private_modes_and_keeps_other_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("bundle");
    std::fs::create_dir(&bundle).expect("mkdir");
    std::fs::write(bundle.join("notes.txt"), "mine").expect("write");
    // An old .env readable by all is replaced by a private one.
    std::fs::write(bundle.join(".env"), "OLD=1").expect("write");
    set_mode(&bundle.join(".env"), 0o644);
    let out = finish(
        topolab()
            .args(["export", "secured-monitored", "--force"])
            .arg(&bundle),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mode = |p: &str| {
        std::fs::metadata(bundle.join(p))
            .expect(p)
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(".env"), 0o600);
    assert_eq!(mode("docker-compose.yml"), 0o644);
    assert_eq!(mode("web-01/db-start.sh"), 0o755);
    assert_eq!(
        std::fs::read_to_string(bundle.join("notes.txt")).expect("kept"),
        "mine"
    );
    let leftovers: Vec<String> = std::fs::read_dir(&bundle)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".topolab"))
        .collect();
    assert_eq!(
        leftovers,
        Vec::<String>::new(),
        "staging folders left behind"
    );
}

#[cfg(unix)]
#[test]
fn saving_keeps_the_file_mode_and_writes_through_a_link() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("designs/lab.ron");
    std::fs::create_dir(dir.path().join("designs")).expect("mkdir");
    std::fs::write(&real, "old").expect("write");
    set_mode(&real, 0o664);
    let link = dir.path().join("lab.ron");
    std::os::unix::fs::symlink("designs/lab.ron", &link).expect("symlink");
    let t = topolab::preset::Preset::find("reference")
        .and_then(|p| p.topology().ok())
        .expect("reference");
    topolab::preset::save_path(&t, &link).expect("saved");
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink(),
        "the link was replaced by a file"
    );
    let mode = std::fs::metadata(&real).expect("file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o664, "the mode changed");
    assert_eq!(
        topolab::preset::load_path(&real).expect("the saved file loads"),
        t
    );
}
