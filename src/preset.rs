//! Reading and writing topology files (RON), and the presets embedded in the
//! binary. Every way a file can be wrong becomes a [`Problem`] with a line
//! and column where there is one; nothing here panics on bad input.

use std::path::{Path, PathBuf};

use ron::extensions::Extensions;
use serde::Deserialize;

use crate::model::{FORMAT_VERSION, Problem, Subject, TextPos, Topology, validate};

/// Larger files are refused before parsing.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Deeper nesting is refused (a topology needs about 8 levels).
const RECURSION_LIMIT: usize = 64;

/// A topology shipped inside the binary.
#[derive(Clone, Copy, Debug)]
pub struct Preset {
    /// Its name, e.g. `reference` (the file is `presets/reference.ron`).
    pub name: &'static str,
    /// The RON text.
    pub source: &'static str,
}

/// Every embedded preset, the reference design first.
pub const PRESETS: [Preset; 5] = [
    Preset {
        name: "reference",
        source: include_str!("../presets/reference.ron"),
    },
    Preset {
        name: "one-server",
        source: include_str!("../presets/one-server.ron"),
    },
    Preset {
        name: "active-passive",
        source: include_str!("../presets/active-passive.ron"),
    },
    Preset {
        name: "scaled",
        source: include_str!("../presets/scaled.ron"),
    },
    Preset {
        name: "secured-monitored",
        source: include_str!("../presets/secured-monitored.ron"),
    },
];

impl Preset {
    /// The preset named `name`.
    pub fn find(name: &str) -> Option<Self> {
        PRESETS.into_iter().find(|p| p.name == name)
    }

    /// The parsed topology. Presets are checked by the test suite, so a
    /// failure here is a bug in the build, reported as problems all the same.
    pub fn topology(&self) -> Result<Topology, Vec<Problem>> {
        load(self.source.as_bytes())
    }

    /// The preset's one-line description, read from its file.
    pub fn description(&self) -> String {
        parse(self.source.as_bytes())
            .map(|t| t.description)
            .unwrap_or_default()
    }
}

/// Why a topology could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read at all.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The path given.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file was read but is not a valid topology.
    #[error("{origin} is not a valid topology ({} problem{})", problems.len(), if problems.len() == 1 { "" } else { "s" })]
    Invalid {
        /// The file or preset.
        origin: String,
        /// Everything wrong with it.
        problems: Vec<Problem>,
    },
}

/// Loads `arg` as a file path or, when no such file exists and it names a
/// preset (`reference` or `presets/reference.ron`), as that preset.
pub fn load_file_or_preset(arg: &str) -> Result<Topology, LoadError> {
    let path = Path::new(arg);
    if !path.exists()
        && let Some(preset) = Preset::find(preset_name(arg))
    {
        return preset.topology().map_err(|problems| LoadError::Invalid {
            origin: format!("preset {}", preset.name),
            problems,
        });
    }
    load_path(path)
}

fn preset_name(arg: &str) -> &str {
    let file = arg.rsplit('/').next().unwrap_or(arg);
    file.strip_suffix(".ron").unwrap_or(file)
}

/// Reads and loads the file at `path`.
pub fn load_path(path: &Path) -> Result<Topology, LoadError> {
    let bytes = read_limited(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    load(&bytes).map_err(|problems| LoadError::Invalid {
        origin: path.display().to_string(),
        problems,
    })
}

/// Reads at most one byte more than [`MAX_FILE_BYTES`], so a huge file (or a
/// device) is never read whole.
fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory",
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Parses and validates: the topology, or every problem found.
pub fn load(bytes: &[u8]) -> Result<Topology, Vec<Problem>> {
    let topology = parse(bytes)?;
    let mut problems = validate(&topology);
    if problems.is_empty() {
        return Ok(topology);
    }
    // A semantic problem about a host points at the host's name in the file.
    if let Ok(text) = std::str::from_utf8(bytes) {
        for p in &mut problems {
            if let Some(subject) = &p.subject {
                p.at = locate_host(text, subject);
            }
        }
    }
    Err(problems)
}

/// Parses RON text into a topology without validating it.
pub fn parse(bytes: &[u8]) -> Result<Topology, Vec<Problem>> {
    let text = check_text(bytes).map_err(|p| vec![p])?;
    #[derive(Deserialize)]
    #[serde(rename = "Topology")]
    struct VersionProbe {
        version: Option<u32>,
    }
    let probe: VersionProbe = options()
        .from_str(text)
        .map_err(|e| vec![ron_problem(text, &e)])?;
    match probe.version {
        None => {
            return Err(vec![Problem::general(format!(
                "the file has no `version` field: add `version: {FORMAT_VERSION},`"
            ))]);
        }
        Some(v) if v != FORMAT_VERSION => {
            return Err(vec![Problem::general(format!(
                "format version {v} is not supported: this topolab reads version \
                 {FORMAT_VERSION} (was the file written by a newer topolab?)"
            ))]);
        }
        Some(_) => {}
    }
    options()
        .from_str(text)
        .map_err(|e| vec![ron_problem(text, &e)])
}

/// Writes `topology` as RON text in the presets' style.
pub fn to_ron(topology: &Topology) -> Result<String, ron::Error> {
    let pretty = ron::ser::PrettyConfig::new()
        .struct_names(false)
        .depth_limit(6)
        .indentor("    ");
    options().to_string_pretty(topology, pretty).map(|mut s| {
        s.push('\n');
        s
    })
}

/// Writes `topology` to `path` atomically: a temporary file next to it,
/// then a rename, so a failure never leaves a half-written file.
pub fn save_path(topology: &Topology, path: &Path) -> std::io::Result<()> {
    let text = to_ron(topology).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomic(path, text.as_bytes())
}

fn options() -> ron::Options {
    ron::Options::default()
        .with_default_extension(Extensions::UNWRAP_VARIANT_NEWTYPES | Extensions::IMPLICIT_SOME)
        .with_recursion_limit(RECURSION_LIMIT)
}

/// The text of `bytes`, or why it is not a topology file's text.
fn check_text(bytes: &[u8]) -> Result<&str, Problem> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Problem::general(format!(
            "the file is larger than {} KiB: a topology file is at most that",
            MAX_FILE_BYTES / 1024
        )));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::general(
            "the file is empty: a topology starts with `(version: 1, ...`".to_owned(),
        ));
    }
    if let Some(i) = bytes.iter().position(|b| *b == 0) {
        return Err(Problem {
            at: Some(pos_of_offset(bytes, i)),
            ..Problem::general("the file is binary (it contains a NUL byte), not RON text")
        });
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let i = e.valid_up_to();
        Problem {
            at: Some(pos_of_offset(bytes, i)),
            ..Problem::general(format!(
                "the file is not UTF-8 text: byte 0x{:02x} is not valid here",
                bytes[i]
            ))
        }
    })
}

fn pos_of_offset(bytes: &[u8], offset: usize) -> TextPos {
    let before = &bytes[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    TextPos {
        line,
        column: offset - line_start + 1,
    }
}

/// A RON error as a problem: position, ron's message, and the text there.
fn ron_problem(text: &str, e: &ron::error::SpannedError) -> Problem {
    let start = e.span.start;
    let mut message = e.code.to_string();
    if let Some(line) = text.lines().nth(start.line.saturating_sub(1)) {
        let excerpt: String = line
            .chars()
            .skip(start.col.saturating_sub(1))
            .take(40)
            .collect();
        let excerpt = excerpt.trim();
        if !excerpt.is_empty() {
            message.push_str(&format!(", at `{excerpt}`"));
        }
    }
    Problem {
        at: Some(TextPos {
            line: start.line,
            column: start.col,
        }),
        ..Problem::general(message)
    }
}

/// Where the host a subject names is defined: its quoted name after `name:`.
fn locate_host(text: &str, subject: &Subject) -> Option<TextPos> {
    let quoted = format!("\"{}\"", subject.host());
    let mut from = 0;
    while let Some(i) = text[from..].find(&quoted).map(|i| i + from) {
        let before = text[..i].trim_end();
        if before.ends_with("name:") {
            return Some(pos_of_offset(text.as_bytes(), i));
        }
        from = i + quoted.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_loads() {
        for p in PRESETS {
            let t = p.topology().unwrap_or_else(|e| panic!("{}: {e:?}", p.name));
            assert_eq!(t.name, p.name);
            assert!(!p.description().is_empty(), "{} has no description", p.name);
        }
    }

    #[test]
    fn save_and_load_round_trip() {
        for p in PRESETS {
            let t = p.topology().expect("preset loads");
            let text = to_ron(&t).expect("serializes");
            let again =
                load(text.as_bytes()).unwrap_or_else(|e| panic!("{}: {e:?}\n{text}", p.name));
            assert_eq!(t, again, "{}", p.name);
        }
    }

    #[test]
    fn unknown_field_names_the_valid_ones() {
        let text = "(version: 1, name: \"x\", hosts: [(name: \"a\", compnents: [])])";
        let problems = parse(text.as_bytes()).expect_err("invalid");
        let p = &problems[0];
        assert!(p.message.contains("compnents"), "{p}");
        assert!(p.message.contains("components"), "{p}");
        assert_eq!(p.at.map(|a| a.line), Some(1));
    }
}
