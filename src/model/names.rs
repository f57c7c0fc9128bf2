//! Identifiers: host names, component kinds and `HOST/KIND` component ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest DNS label (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;

/// The name of a host, such as `web-01`. Must be a DNS label to be valid;
/// deserializing accepts any string so that `validate()` can report every bad
/// name at once instead of stopping at the first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HostName(String);

impl HostName {
    /// Wraps a name without checking it; see [`is_dns_label`].
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for HostName {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

/// Whether `name` is a DNS label: 1–63 lowercase ASCII letters, digits and
/// hyphens, neither starting nor ending with a hyphen.
pub fn is_dns_label(name: &str) -> bool {
    dns_label_problem(name).is_none()
}

/// Why `name` is not a DNS label, in words, or `None` when it is one.
///
/// The first thing wrong, reading from the left, is what is reported: the
/// first character that may not stand where it stands (a hyphen may not
/// start or end a name), and only for a name made of allowed characters,
/// its length.
pub fn dns_label_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".to_owned());
    }
    let last = name.chars().count();
    for (i, c) in name.chars().enumerate() {
        let place = i + 1;
        if c == '-' && place == 1 {
            return Some("starts with a hyphen".to_owned());
        }
        if c == '-' && place == last {
            return Some("ends with a hyphen".to_owned());
        }
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            let hint = if c.is_ascii_uppercase() {
                " (only lowercase letters a-z, digits and '-' are allowed: write it in lowercase)"
            } else {
                " (only lowercase letters a-z, digits and '-' are allowed)"
            };
            return Some(format!("contains {c:?} at character {place}{hint}"));
        }
    }
    (name.len() > MAX_LABEL_LEN).then(|| {
        format!(
            "is {} characters long (at most {MAX_LABEL_LEN})",
            name.len()
        )
    })
}

/// What YAML would read `name` as when written without quotes, or `None`
/// when every YAML reader takes it for a string.
///
/// Covers what YAML 1.1 (PyYAML, docker-compose v1) and YAML 1.2 (the core
/// schema, Compose v2) resolve among names made of `a-z`, `0-9` and `-`:
/// booleans, null, integers (decimal, octal, hexadecimal, binary), floats
/// with an exponent, and dates. docker-compose refuses a service or host
/// name that is not a string, and a resolver takes an all-digit host name
/// for an IPv4 address, so such names cannot run.
pub fn yaml_reading(name: &str) -> Option<&'static str> {
    const BOOLEANS: [&str; 8] = ["y", "n", "yes", "no", "true", "false", "on", "off"];
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    if BOOLEANS.contains(&name) {
        return Some("a boolean");
    }
    if name == "null" {
        return Some("null");
    }
    if digits(name, 10) {
        return Some("a number");
    }
    if let Some(rest) = name.strip_prefix("0x")
        && digits(rest, 16)
    {
        return Some("a hexadecimal number");
    }
    if let Some(rest) = name.strip_prefix("0o")
        && digits(rest, 8)
    {
        return Some("an octal number");
    }
    if let Some(rest) = name.strip_prefix("0b")
        && digits(rest, 2)
    {
        return Some("a binary number");
    }
    if let Some((mantissa, exponent)) = name.split_once('e')
        && digits(mantissa, 10)
        && digits(exponent.strip_prefix('-').unwrap_or(exponent), 10)
    {
        return Some("a floating-point number");
    }
    let parts: Vec<&str> = name.split('-').collect();
    if let [year, month, day] = parts.as_slice()
        && year.len() == 4
        && digits(year, 10)
        && (1..=2).contains(&month.len())
        && digits(month, 10)
        && (1..=2).contains(&day.len())
        && digits(day, 10)
    {
        return Some("a date");
    }
    None
}

/// Suffixes of the helper containers topolab runs beside a host's own
/// components (`HOST-exporter`, `HOST-binlog-reader`, `HOST-vrrp`): a host
/// may not be named like one.
pub const HELPER_SUFFIXES: [&str; 3] = ["exporter", "binlog-reader", "vrrp"];

/// Host names taken by topolab itself: Prometheus's container and compose
/// service are named `monitoring`, the router between regions `wan`, the
/// forwarder of the virtual IPs' published ports `nat`.
pub const RESERVED_HOST_NAMES: [&str; 4] = ["monitoring", "wan", "nat", "reach"];

/// Why `name` cannot name a host, judged on the name alone (not a DNS
/// label, read by YAML as something other than text, or named like one
/// of topolab's own containers), or `None`. Collisions with the names
/// derived from other hosts need the whole topology: see `validate()`.
pub fn host_name_problem(name: &str) -> Option<String> {
    if let Some(why) = dns_label_problem(name) {
        return Some(why);
    }
    if let Some(what) = yaml_reading(name) {
        return Some(format!(
            "is read by YAML (docker-compose.yml) as {what}, not as a name: add a letter, e.g. \"h{name}\""
        ));
    }
    if RESERVED_HOST_NAMES.contains(&name) {
        return Some(format!(
            "is reserved: topolab names its own container and service \"{name}\" \
             (Prometheus is \"monitoring\", the router between regions \"wan\", \
             the forwarder of the virtual IPs' ports \"nat\", the databases' forwarder \
             of a lab on overlays \"reach\")"
        ));
    }
    HELPER_SUFFIXES
        .iter()
        .find(|suffix| {
            name.strip_suffix(*suffix)
                .is_some_and(|base| base.len() > 1 && base.ends_with('-'))
        })
        .map(|suffix| {
            format!(
                "ends in \"-{suffix}\", like the {suffix} container topolab runs beside a host: \
                 pick another name"
            )
        })
}

/// The kind of a component; also its name inside its host (`web-01/db`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    /// HAProxy load balancer.
    Lb,
    /// Nginx web server.
    Nginx,
    /// The application server.
    App,
    /// MySQL or MariaDB database server.
    Db,
    /// DNS server (PowerDNS), authoritative for the site's name.
    Dns,
}

impl ComponentKind {
    /// Every kind: the tiers in order, then DNS.
    pub const ALL: [Self; 5] = [Self::Lb, Self::Nginx, Self::App, Self::Db, Self::Dns];

    /// The short name used in ids, labels and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lb => "lb",
            Self::Nginx => "nginx",
            Self::App => "app",
            Self::Db => "db",
            Self::Dns => "dns",
        }
    }

    /// The program that plays this part, for people.
    pub fn program(self) -> &'static str {
        match self {
            Self::Lb => "HAProxy",
            Self::Nginx => "Nginx",
            Self::App => "application server",
            Self::Db => "MySQL",
            Self::Dns => "PowerDNS",
        }
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ComponentKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_one_of(s, &Self::ALL, Self::as_str, "component kind")
    }
}

/// The one of `all` whose `name` is `s`, or why not: "unknown `what` "s":
/// expected one of ..." (the parse of every named kind).
pub fn parse_one_of<T: Copy>(
    s: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
    what: &str,
) -> Result<T, String> {
    all.iter().copied().find(|k| name(*k) == s).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|k| name(*k)).collect();
        format!("unknown {what} {s:?}: expected one of {}", names.join(", "))
    })
}

/// A component, named `HOST/KIND` everywhere (CLI, messages, labels, JSON).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId {
    /// The host the component runs on.
    pub host: HostName,
    /// What the component is.
    pub kind: ComponentKind,
}

impl ComponentId {
    /// The component `kind` on `host`.
    pub fn new(host: impl Into<HostName>, kind: ComponentKind) -> Self {
        Self {
            host: host.into(),
            kind,
        }
    }
}

impl From<&HostName> for HostName {
    fn from(h: &HostName) -> Self {
        h.clone()
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.kind)
    }
}

impl FromStr for ComponentId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (host, kind) = s.split_once('/').ok_or_else(|| {
            format!("{s:?} is not a component: expected HOST/KIND, e.g. web-01/db")
        })?;
        if let Some(why) = dns_label_problem(host) {
            return Err(format!("{s:?}: host name {host:?} {why}"));
        }
        Ok(Self::new(HostName::new(host), kind.parse()?))
    }
}

impl Serialize for ComponentId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a problem, finding or event is about: a whole host or one component.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// A host and everything on it.
    Host(HostName),
    /// One component.
    Component(ComponentId),
}

impl Subject {
    /// The host named, or the host of the component named.
    pub fn host(&self) -> &HostName {
        match self {
            Self::Host(h) => h,
            Self::Component(c) => &c.host,
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Host(h) => h.fmt(f),
            Self::Component(c) => c.fmt(f),
        }
    }
}

impl FromStr for Subject {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains('/') {
            s.parse().map(Self::Component)
        } else if let Some(why) = dns_label_problem(s) {
            Err(format!("host name {s:?} {why}"))
        } else {
            Ok(Self::Host(HostName::new(s)))
        }
    }
}

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `subject == "web-01/nginx"`: compares with its text.
impl PartialEq<str> for Subject {
    fn eq(&self, other: &str) -> bool {
        match self {
            Self::Host(h) => h.as_str() == other,
            Self::Component(c) => other.split_once('/') == Some((c.host.as_str(), c.kind.as_str())),
        }
    }
}

/// `subject == "web-01/nginx"`.
impl PartialEq<&str> for Subject {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

/// `host == "web-01"`.
impl PartialEq<str> for HostName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

/// `host == "web-01"`.
impl PartialEq<&str> for HostName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_kind() {
        // strum enumerates the enum's variants itself: a kind added to the
        // enum but not to ALL fails here.
        use strum::IntoEnumIterator;
        let every: Vec<ComponentKind> = ComponentKind::iter().collect();
        assert_eq!(every, ComponentKind::ALL.to_vec());
        for k in ComponentKind::ALL {
            assert_eq!(k.as_str().parse::<ComponentKind>(), Ok(k));
        }
    }

    #[test]
    fn dns_labels() {
        for ok in ["web-01", "a", "lb1", &"x".repeat(63)] {
            assert!(is_dns_label(ok), "{ok}");
            assert_eq!(dns_label_problem(ok), None);
        }
        for bad in [
            "",
            "-a",
            "a-",
            "Web",
            "web_01",
            "wéb",
            "a.b",
            &"x".repeat(64),
        ] {
            assert!(!is_dns_label(bad), "{bad}");
            assert!(dns_label_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn component_ids_round_trip() {
        let id: ComponentId = "web-01/db".parse().expect("valid id");
        assert_eq!(id, ComponentId::new("web-01", ComponentKind::Db));
        assert_eq!(id.to_string(), "web-01/db");
        assert!("web-01".parse::<ComponentId>().is_err());
        assert!("web-01/redis".parse::<ComponentId>().is_err());
        assert!("WEB/db".parse::<ComponentId>().is_err());
        assert_eq!(
            "web-02".parse::<Subject>(),
            Ok(Subject::Host(HostName::new("web-02")))
        );
    }
}
