//! GTID positions, as MariaDB and MySQL write them, and the arithmetic the
//! lab needs on them: how many transactions one server lacks of another
//! (lag, loss), and how many a former primary has that the new one never
//! had (errant transactions). Pure: text in, numbers out.
//!
//! MariaDB writes `domain-server-seq` per replication domain
//! (`0-1-14,1-2-5`); MySQL writes `uuid:interval[:interval]` per source
//! server (`3e11…:1-5:7-9`). Both become streams (a domain or a source
//! server) with the transactions each holds.

use std::collections::BTreeMap;

/// One stream of transactions: a MariaDB domain (with the server that wrote
/// its last one), or a MySQL source server.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stream {
    /// The domain, or the source server's uuid.
    key: String,
    /// MariaDB: the server id of the entry; MySQL: none.
    server: Option<String>,
    /// The highest sequence number.
    last: u64,
    /// How many transactions it names (MySQL's intervals can have holes;
    /// MariaDB's is a position, `last` of them).
    count: u64,
}

/// A GTID position or set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gtid {
    streams: Vec<Stream>,
}

impl Gtid {
    /// Parses either flavor's text (whitespace, newlines and the `\n` of
    /// batch output are ignored); `None` when it is not a GTID list. An
    /// empty text is the empty position.
    pub fn parse(text: &str) -> Option<Self> {
        let clean: String = text
            .replace("\\n", "")
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\'' && *c != '"')
            .collect();
        let mut streams = Vec::new();
        for part in clean.split(',').filter(|p| !p.is_empty()) {
            if let Some((uuid, intervals)) = part.split_once(':') {
                let mut last = 0;
                let mut count = 0;
                for interval in intervals.split(':') {
                    let (a, b) = match interval.split_once('-') {
                        Some((a, b)) => (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?),
                        None => {
                            let n = interval.parse::<u64>().ok()?;
                            (n, n)
                        }
                    };
                    if b < a {
                        return None;
                    }
                    last = last.max(b);
                    count += b - a + 1;
                }
                streams.push(Stream {
                    key: uuid.to_ascii_lowercase(),
                    server: None,
                    last,
                    count,
                });
            } else {
                let mut it = part.split('-');
                let (domain, server, seq) = (it.next()?, it.next()?, it.next()?);
                if it.next().is_some() {
                    return None;
                }
                let seq = seq.parse::<u64>().ok()?;
                domain.parse::<u64>().ok()?;
                streams.push(Stream {
                    key: domain.to_owned(),
                    server: Some(server.parse::<u64>().ok()?.to_string()),
                    last: seq,
                    count: seq,
                });
            }
        }
        Some(Self { streams })
    }

    /// The highest sequence per stream.
    fn tops(&self) -> BTreeMap<&str, u64> {
        let mut out: BTreeMap<&str, u64> = BTreeMap::new();
        for s in &self.streams {
            let e = out.entry(s.key.as_str()).or_insert(0);
            *e = (*e).max(s.last);
        }
        out
    }

    /// How many transactions `other` lacks of `self`, stream by stream:
    /// a replica's lag behind its primary, or what promoting it would lose.
    pub fn missing_from(&self, other: &Self) -> u64 {
        let theirs = other.tops();
        self.tops()
            .into_iter()
            .map(|(k, n)| n.saturating_sub(theirs.get(k).copied().unwrap_or(0)))
            .sum()
    }

    /// Transactions of `self` (a former primary's own position) that
    /// `other` (the new primary's whole state) never had: for MariaDB the
    /// writes past what the new primary holds from the same server in the
    /// same domain.
    pub fn errant_against(&self, other: &Self) -> u64 {
        self.streams
            .iter()
            .map(|s| {
                let has = other
                    .streams
                    .iter()
                    .filter(|o| o.key == s.key && o.server == s.server)
                    .map(|o| o.last)
                    .max()
                    .unwrap_or(0);
                s.last.saturating_sub(has)
            })
            .sum()
    }

    /// How many transactions the set names (MySQL: the sizes of its
    /// intervals).
    pub fn count(&self) -> u64 {
        self.streams.iter().map(|s| s.count).sum()
    }

    /// Whether it names no transaction.
    pub fn is_empty(&self) -> bool {
        self.streams.iter().all(|s| s.count == 0)
    }

    /// Each MySQL stream's source server and highest transaction.
    pub fn streams_last(&self) -> Vec<(String, u64)> {
        self.streams
            .iter()
            .filter(|s| s.server.is_none())
            .map(|s| (s.key.clone(), s.last))
            .collect()
    }

    /// Adds a MySQL transaction `uuid:n` seen in a binary log.
    pub fn note(&mut self, uuid: &str, n: u64) {
        let key = uuid.to_ascii_lowercase();
        match self.streams.iter_mut().find(|s| s.key == key) {
            Some(s) if n > s.last => {
                s.count += n - s.last;
                s.last = n;
            }
            Some(_) => {}
            None => self.streams.push(Stream {
                key,
                server: None,
                last: n,
                count: n,
            }),
        }
    }
}

impl std::fmt::Display for Gtid {
    /// MySQL streams as `uuid:1-N` (what the lab's writes give: no holes),
    /// MariaDB ones as `domain-server-seq`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut streams: Vec<&Stream> = self.streams.iter().collect();
        streams.sort_by(|a, b| a.key.cmp(&b.key));
        let parts: Vec<String> = streams
            .iter()
            .map(|s| match &s.server {
                Some(server) => format!("{}-{server}-{}", s.key, s.last),
                None => format!("{}:1-{}", s.key, s.last),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// How many transactions `replica` lacks of `primary`, both as text;
/// `None` when either is unreadable.
pub fn gap(primary: &str, replica: &str) -> Option<u64> {
    Some(Gtid::parse(primary)?.missing_from(&Gtid::parse(replica)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn gaps_in_both_flavors() {
        assert_eq!(gap("0-1-14", "0-1-4"), Some(10));
        assert_eq!(gap("0-1-14", "0-1-14"), Some(0));
        assert_eq!(gap("0-1-14,1-2-5", "0-1-10"), Some(9));
        assert_eq!(gap("0-1-3", ""), Some(3));
        assert_eq!(gap(&format!("{U}:1-20"), &format!("{U}:1-17")), Some(3));
        assert_eq!(gap("garbage", "0-1-1"), None);
        assert_eq!(gap("0-1", "0-1-1"), None);
    }

    #[test]
    fn errant_transactions_of_a_former_primary() {
        let e = |a: &str, b: &str| {
            Gtid::parse(a)
                .expect("a")
                .errant_against(&Gtid::parse(b).expect("b"))
        };
        // The old primary (server 1) wrote up to 20; the new one got up to 10.
        assert_eq!(e("0-1-20", "0-1-10,0-2-25"), 10);
        assert_eq!(e("0-1-10", "0-1-10,0-2-25"), 0);
        assert_eq!(e("0-1-5", "0-2-25"), 5);
        assert_eq!(e("", "0-2-25"), 0);
    }

    #[test]
    fn mysql_sets_are_counted_and_read_from_batch_output() {
        let count = |s: &str| Gtid::parse(s).expect("set").count();
        assert_eq!(count(""), 0);
        assert_eq!(count(&format!("{U}:1-5")), 5);
        assert_eq!(count(&format!("{U}:1-5:7,{U}:9-10")), 8);
        assert_eq!(count(&format!("{U}:1-5,\\n{U}:9")), 6);
        assert!(Gtid::parse(&format!("{U}:5-1")).is_none());
        let mut g = Gtid::default();
        g.note(&U.to_uppercase(), 6);
        g.note(U, 7);
        g.note(U, 3);
        assert_eq!(g.to_string(), format!("{U}:1-7"));
        assert_eq!(g.count(), 7);
    }
}
