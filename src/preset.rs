//! Reading and writing topology files (RON), and the presets embedded in the
//! binary. Every way a file can be wrong becomes a [`Problem`] with a line
//! and column where there is one; nothing here panics on bad input.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ron::extensions::Extensions;
use serde::Deserialize;

use crate::model::{FORMAT_VERSION, Problem, TextPos, Topology, validate};

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
pub const PRESETS: [Preset; 11] = [
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
    Preset {
        name: "dns",
        source: include_str!("../presets/dns.ron"),
    },
    Preset {
        name: "vip",
        source: include_str!("../presets/vip.ron"),
    },
    Preset {
        name: "two-regions",
        source: include_str!("../presets/two-regions.ron"),
    },
    // The designs some lessons (presets/scenarios/) are written for.
    Preset {
        name: "semi-sync",
        source: include_str!("../presets/semi-sync.ron"),
    },
    Preset {
        name: "small-web",
        source: include_str!("../presets/small-web.ron"),
    },
    Preset {
        name: "small-db",
        source: include_str!("../presets/small-db.ron"),
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

/// Loads `arg` as a file path or, when no such file exists and `arg` is a
/// preset's bare name (`reference`) or its file in the source tree
/// (`presets/reference.ron`, relative), as that preset. Any other path
/// is a file: a missing one is a [`LoadError::Read`], never a preset that
/// happens to share its file name.
pub fn load_file_or_preset(arg: &str) -> Result<Topology, LoadError> {
    let path = Path::new(arg);
    if let Some(preset) = preset_named_by(arg)
        && !path.is_file()
    {
        return preset.topology().map_err(|problems| LoadError::Invalid {
            origin: format!("preset {}", preset.name),
            problems,
        });
    }
    load_path(path)
}

/// The preset `arg` names: a bare name without a slash or an extension, or
/// exactly `presets/NAME.ron`.
fn preset_named_by(arg: &str) -> Option<Preset> {
    let name = match arg.strip_prefix("presets/") {
        Some(file) => file.strip_suffix(".ron")?,
        None => arg,
    };
    if name.contains(['/', '.']) {
        return None;
    }
    Preset::find(name)
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

/// `O_NONBLOCK`: opening a FIFO that was swapped in after the type check
/// returns at once instead of waiting for a writer.
#[cfg(unix)]
const OPEN_NONBLOCK: i32 = libc::O_NONBLOCK;

/// Why a file of this type is not read, or `None` for a regular file.
fn not_regular(file_type: std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_file() {
        return None;
    }
    if file_type.is_dir() {
        return Some("it is a directory, not a topology file");
    }
    #[cfg(unix)]
    {
        if file_type.is_fifo() {
            return Some("it is a named pipe (FIFO), not a regular file");
        }
        if file_type.is_socket() {
            return Some("it is a socket, not a regular file");
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return Some("it is a device, not a regular file");
        }
    }
    Some("it is not a regular file")
}

/// Reads at most one byte more than [`MAX_FILE_BYTES`] of a regular file.
/// Anything else (a directory, FIFO, socket or device) is refused before
/// it is opened, and again from the opened file, so that reading never
/// waits for a writer nor runs forever.
fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let refuse = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
    let meta = std::fs::metadata(path)?;
    if let Some(why) = not_regular(meta.file_type()) {
        return Err(refuse(why));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(OPEN_NONBLOCK);
    }
    let file = options.open(path)?;
    if let Some(why) = not_regular(file.metadata()?.file_type()) {
        return Err(refuse(why));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
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
    if let Ok(text) = std::str::from_utf8(strip_bom(bytes)) {
        let sites = name_sites(text);
        for p in &mut problems {
            if let Some(subject) = &p.subject {
                p.at = sites.get(subject.host().as_str()).copied();
            }
        }
    }
    Err(problems)
}

/// `bytes` without a leading UTF-8 byte order mark, which some editors
/// write and which means nothing in RON.
fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

/// Parses RON text into a topology without validating it.
pub fn parse(bytes: &[u8]) -> Result<Topology, Vec<Problem>> {
    let text = check_text(strip_bom(bytes)).map_err(|p| vec![p])?;
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

/// Where each host's name is written in `text`: the opening quote of the
/// string after `name:` at a host's level of nesting, keyed by the name as
/// RON reads it (escapes such as `\"`, `\t` or `\u{1b}` decoded, raw
/// strings as they are). One pass over the text, which has parsed, so
/// every string and comment is well formed.
fn name_sites(text: &str) -> HashMap<String, TextPos> {
    let mut scan = Scanner {
        bytes: text.as_bytes(),
        i: 0,
        line: 1,
        column: 1,
    };
    let mut sites = HashMap::new();
    let mut depth = 0usize;
    // The last two tokens: a host's name is `name` `:` then a string.
    let mut after_name_colon = false;
    let mut after_name = false;
    while let Some(b) = scan.peek(0) {
        let was_name_colon = std::mem::take(&mut after_name_colon);
        let was_name = std::mem::take(&mut after_name);
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => {
                scan.bump();
                after_name_colon = was_name_colon;
                after_name = was_name;
            }
            b'/' if scan.peek(1) == Some(b'/') => {
                while scan.peek(0).is_some_and(|b| b != b'\n') {
                    scan.bump();
                }
                after_name_colon = was_name_colon;
                after_name = was_name;
            }
            b'/' if scan.peek(1) == Some(b'*') => {
                scan.block_comment();
                after_name_colon = was_name_colon;
                after_name = was_name;
            }
            b'"' => {
                let at = scan.pos();
                let value = scan.quoted_string();
                if was_name_colon && depth == 3 {
                    sites.entry(value).or_insert(at);
                }
            }
            b'r' if scan.raw_string_ahead() => {
                let at = scan.pos();
                let value = scan.raw_string();
                if was_name_colon && depth == 3 {
                    sites.entry(value).or_insert(at);
                }
            }
            b'b' if scan.peek(1) == Some(b'"') => {
                scan.bump();
                scan.quoted_string();
            }
            b'\'' => scan.char_literal(),
            b'(' | b'[' | b'{' => {
                depth += 1;
                scan.bump();
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                scan.bump();
            }
            b':' => {
                scan.bump();
                after_name_colon = was_name;
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let ident = scan.identifier();
                after_name = ident == "name" || ident == "r#name";
            }
            _ => scan.bump(),
        }
    }
    sites
}

/// A cursor over RON text that knows its line and column (in characters,
/// as RON's own errors count them).
struct Scanner<'a> {
    bytes: &'a [u8],
    i: usize,
    line: usize,
    column: usize,
}

impl Scanner<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.i + ahead).copied()
    }

    fn pos(&self) -> TextPos {
        TextPos {
            line: self.line,
            column: self.column,
        }
    }

    /// Moves past one byte; a UTF-8 continuation byte is not a new column.
    fn bump(&mut self) {
        let Some(b) = self.peek(0) else {
            return;
        };
        self.i += 1;
        if b == b'\n' {
            self.line += 1;
            self.column = 1;
        } else if b & 0xc0 != 0x80 {
            self.column += 1;
        }
    }

    fn identifier(&mut self) -> String {
        let start = self.i;
        if self.peek(0) == Some(b'r') && self.peek(1) == Some(b'#') {
            self.bump();
            self.bump();
        }
        while self
            .peek(0)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.bump();
        }
        String::from_utf8_lossy(&self.bytes[start..self.i]).into_owned()
    }

    /// Block comments nest in RON.
    fn block_comment(&mut self) {
        let mut open = 0usize;
        while let Some(b) = self.peek(0) {
            if b == b'/' && self.peek(1) == Some(b'*') {
                open += 1;
                self.bump();
                self.bump();
            } else if b == b'*' && self.peek(1) == Some(b'/') {
                open = open.saturating_sub(1);
                self.bump();
                self.bump();
                if open == 0 {
                    return;
                }
            } else {
                self.bump();
            }
        }
    }

    /// Whether a raw string (`r"`, `r#"`, …) starts here.
    fn raw_string_ahead(&self) -> bool {
        let mut k = 1;
        while self.peek(k) == Some(b'#') {
            k += 1;
        }
        self.peek(k) == Some(b'"')
    }

    fn raw_string(&mut self) -> String {
        self.bump();
        let mut hashes = 0;
        while self.peek(0) == Some(b'#') {
            hashes += 1;
            self.bump();
        }
        self.bump();
        let start = self.i;
        while self.peek(0).is_some() {
            if self.peek(0) == Some(b'"') && (1..=hashes).all(|k| self.peek(k) == Some(b'#')) {
                let value = String::from_utf8_lossy(&self.bytes[start..self.i]).into_owned();
                for _ in 0..=hashes {
                    self.bump();
                }
                return value;
            }
            self.bump();
        }
        String::from_utf8_lossy(&self.bytes[start..]).into_owned()
    }

    /// A `"…"` string with its escapes decoded as RON decodes them.
    fn quoted_string(&mut self) -> String {
        self.bump();
        let mut value = Vec::new();
        while let Some(b) = self.peek(0) {
            match b {
                b'"' => {
                    self.bump();
                    break;
                }
                b'\\' => {
                    self.bump();
                    self.escape(&mut value);
                }
                _ => {
                    value.push(b);
                    self.bump();
                }
            }
        }
        String::from_utf8_lossy(&value).into_owned()
    }

    /// One escape, after its backslash, appended to `value` as UTF-8.
    fn escape(&mut self, value: &mut Vec<u8>) {
        let Some(b) = self.peek(0) else {
            return;
        };
        self.bump();
        let simple = match b {
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'0' => Some(0),
            b'\\' | b'"' | b'\'' => Some(b),
            _ => None,
        };
        if let Some(c) = simple {
            value.push(c);
            return;
        }
        match b {
            b'x' => {
                // `\xHH` escapes are bytes: several make one character.
                let hex = self.hex_digits(2);
                value.push(u8::try_from(hex).unwrap_or(b'?'));
            }
            b'u' => {
                if self.peek(0) == Some(b'{') {
                    self.bump();
                }
                let code = self.hex_digits(6);
                if self.peek(0) == Some(b'}') {
                    self.bump();
                }
                let c = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0u8; 4];
                value.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            b'\n' | b'\r' => {
                // A line continuation: the line break and the next line's
                // leading whitespace are not part of the string.
                while self
                    .peek(0)
                    .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                {
                    self.bump();
                }
            }
            other => value.push(other),
        }
    }

    fn hex_digits(&mut self, at_most: usize) -> u32 {
        let mut n = 0u32;
        for _ in 0..at_most {
            let Some(d) = self.peek(0).and_then(|b| char::from(b).to_digit(16)) else {
                break;
            };
            n = n * 16 + d;
            self.bump();
        }
        n
    }

    /// A character literal such as `'a'`, `'\''` or `'\u{e9}'`.
    fn char_literal(&mut self) {
        self.bump();
        if self.peek(0) == Some(b'\\') {
            self.bump();
            self.bump();
        } else {
            self.bump();
            while self.peek(0).is_some_and(|b| b & 0xc0 == 0x80) {
                self.bump();
            }
        }
        for _ in 0..10 {
            match self.peek(0) {
                Some(b'\'') => {
                    self.bump();
                    return;
                }
                Some(b'{' | b'}') | Some(b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => self.bump(),
                _ => return,
            }
        }
    }
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
