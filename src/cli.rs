//! The command line: `topolab check | export | presets`. Thin: parses
//! arguments, calls the library, prints, and maps outcomes to exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::generate::{self, Secrets, Settings};
use crate::model::{Category, Finding, Flavor, Problem, Topology, review};
use crate::preset::{self, LoadError, PRESETS};

/// Exit code: the input was read but is not a valid topology.
const INVALID: u8 = 1;
/// Exit code: the input could not be read, or the command line is wrong.
const UNUSABLE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "topolab",
    version,
    about = "Design a web infrastructure (HAProxy, Nginx, app, MySQL replication), generate its configs, run it as a live lab",
    long_about = None,
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a topology and review its design (SPOFs, security, monitoring).
    ///
    /// Exit status: 0 valid (findings are not errors), 1 not a valid
    /// topology, 2 unreadable or a wrong command line.
    Check {
        /// A topology file, or the name of a preset (`reference`).
        topology: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write every generated config, a docker-compose.yml, .env and a README to DIR.
    Export {
        /// A topology file, or the name of a preset.
        topology: String,
        /// Folder to create.
        dir: PathBuf,
        /// Write into DIR even when it is not empty.
        #[arg(long)]
        force: bool,
        /// Database program to generate for (default: the topology's).
        #[arg(long, value_enum)]
        flavor: Option<FlavorArg>,
    },
    /// List the built-in presets.
    Presets,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum FlavorArg {
    Mysql,
    Mariadb,
}

impl From<FlavorArg> for Flavor {
    fn from(f: FlavorArg) -> Self {
        match f {
            FlavorArg::Mysql => Self::Mysql,
            FlavorArg::Mariadb => Self::Mariadb,
        }
    }
}

/// Runs the command line and returns the process's exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => {
            use clap::CommandFactory;
            // The desktop app arrives in a later version; until then, help.
            let _ = Cli::command().print_help();
            ExitCode::SUCCESS
        }
        Some(Command::Check { topology, format }) => check(&topology, format),
        Some(Command::Export {
            topology,
            dir,
            force,
            flavor,
        }) => export(&topology, &dir, force, flavor.map(Flavor::from)),
        Some(Command::Presets) => {
            for p in PRESETS {
                println!("{:<18} {}", p.name, p.description());
            }
            ExitCode::SUCCESS
        }
    }
}

fn check(arg: &str, format: Format) -> ExitCode {
    let (problems, findings, topology) = match preset::load_file_or_preset(arg) {
        Ok(t) => (Vec::new(), review(&t), Some(t)),
        Err(LoadError::Invalid { problems, .. }) => (problems, Vec::new(), None),
        Err(e @ LoadError::Read { .. }) => {
            eprintln!("topolab: {e}");
            return ExitCode::from(UNUSABLE);
        }
    };
    match format {
        Format::Json => {
            let json = serde_json::json!({ "problems": problems, "findings": findings });
            println!("{json:#}");
        }
        Format::Text => match &topology {
            Some(t) => print_review(arg, t, &findings),
            None => print_problems(arg, &problems),
        },
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(INVALID)
    }
}

fn print_problems(origin: &str, problems: &[Problem]) {
    for p in problems {
        match p.at {
            Some(at) => eprint!("{origin}:{}:{}: ", at.line, at.column),
            None => eprint!("{origin}: "),
        }
        match &p.subject {
            Some(s) => eprintln!("{s}: {}", p.message),
            None => eprintln!("{}", p.message),
        }
    }
    eprintln!(
        "{origin}: not a valid topology ({} problem{})",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
}

fn print_review(origin: &str, t: &Topology, findings: &[Finding]) {
    let components = t.components().count();
    println!(
        "{origin}: valid topology {:?}: {} hosts, {components} components",
        t.name,
        t.hosts.len()
    );
    if findings.is_empty() {
        println!("design review: no findings");
        return;
    }
    println!("design review: {} finding(s)", findings.len());
    for category in [Category::Spof, Category::Security, Category::Monitoring] {
        for f in findings.iter().filter(|f| f.category == category) {
            let subjects: Vec<String> = f.subjects.iter().map(ToString::to_string).collect();
            println!(
                "  [{}/{}] {}: {}",
                serde_plain(&f.category),
                serde_plain(&f.severity),
                f.id,
                f.title
            );
            if !subjects.is_empty() {
                println!("      names: {}", subjects.join(", "));
            }
            println!("      why: {}", f.explanation);
            println!("      fix: {}", f.fix);
        }
    }
}

/// A unit enum's serde name (`spof`, `high`).
fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn export(arg: &str, dir: &Path, force: bool, flavor: Option<Flavor>) -> ExitCode {
    let topology = match preset::load_file_or_preset(arg) {
        Ok(t) => t,
        Err(LoadError::Invalid { problems, .. }) => {
            print_problems(arg, &problems);
            return ExitCode::from(INVALID);
        }
        Err(e @ LoadError::Read { .. }) => {
            eprintln!("topolab: {e}");
            return ExitCode::from(UNUSABLE);
        }
    };
    if let Err(why) = check_target(dir, force) {
        eprintln!("topolab: {why}");
        return ExitCode::from(UNUSABLE);
    }
    let secrets = match Secrets::generate(&topology.domain) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("topolab: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut settings = Settings::for_topology(&topology);
    if let Some(f) = flavor {
        settings.flavor = f;
    }
    let artifacts = match generate::generate(&topology, &settings, &secrets) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("topolab: {e}");
            return ExitCode::from(INVALID);
        }
    };
    match crate::export::write_bundle(&artifacts, dir) {
        Ok(()) => {
            let _ = writeln!(
                std::io::stdout(),
                "wrote {} files to {} ({} flavor); see {}/README.md",
                artifacts.len(),
                dir.display(),
                settings.flavor.as_str(),
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("topolab: cannot write {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

/// Whether `dir` may be written: absent, an empty folder, or `force`.
fn check_target(dir: &Path, force: bool) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if dir.is_file() => Err(format!("{} is a file, not a folder ({e})", dir.display())),
        Err(e) => Err(format!("cannot use {}: {e}", dir.display())),
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                Err(format!(
                    "{} is not empty: pass --force to write into it anyway",
                    dir.display()
                ))
            } else {
                Ok(())
            }
        }
    }
}
