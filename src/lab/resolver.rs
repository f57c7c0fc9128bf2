//! The clients' resolver: asks the lab's DNS servers for the site's name
//! the way a stub resolver does (one UDP question, each server in turn,
//! each given [`SERVER_TIMEOUT`]) and keeps the answer for its TTL. While
//! an answer is fresh no server is asked, so a changed record, a dead
//! server or a dead entry point reaches clients only once it expires.
//!
//! Many requests share one lookup: a request that finds a lookup under
//! way waits for it and takes its result, success or failure, instead of
//! asking again.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::model::HostName;

/// How long one server may take to answer before the next is asked.
pub const SERVER_TIMEOUT: Duration = Duration::from_millis(500);

/// An answer: the addresses and how long they may be kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The `A` records' addresses, in the order the server gave them.
    pub addresses: Vec<Ipv4Addr>,
    /// The smallest TTL among them, seconds.
    pub ttl_s: u32,
}

/// Why a name could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No server answered in time.
    #[error("DNS: no answer for {name} from {servers} (each given {timeout_ms} ms)")]
    NoAnswer {
        /// The name asked for.
        name: String,
        /// The servers asked, in words.
        servers: String,
        /// Each one's time.
        timeout_ms: u128,
    },
    /// A server answered, but not with an address.
    #[error("DNS: {server} answered {what} for {name}")]
    Refused {
        /// The name asked for.
        name: String,
        /// Which server.
        server: HostName,
        /// What it said.
        what: String,
    },
}

/// One of the lab's DNS servers, as this machine reaches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// Its host.
    pub host: HostName,
    /// Where it answers (a port published on 127.0.0.1).
    pub addr: SocketAddr,
}

#[derive(Debug, Default)]
struct Cache {
    /// The last answer and when it expires.
    answer: Option<(Answer, Instant)>,
    /// When the last lookup ended, and its result.
    last: Option<(Instant, Result<Answer, ResolveError>)>,
}

/// A caching stub resolver for one name.
#[derive(Debug)]
pub struct Resolver {
    name: String,
    servers: Vec<Server>,
    cache: Mutex<Cache>,
}

/// What a lookup gave, and whether it came from the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The answer.
    pub answer: Answer,
    /// Whether it was kept from an earlier lookup.
    pub cached: bool,
}

impl Resolver {
    /// A resolver of `name` asking `servers` in order.
    pub fn new(name: impl Into<String>, servers: Vec<Server>) -> Self {
        Self {
            name: name.into(),
            servers,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The name it resolves.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The first server, to name where a failed lookup got stuck.
    pub fn first_server(&self) -> Option<&HostName> {
        self.servers.first().map(|s| &s.host)
    }

    /// The name's addresses: the kept answer while it is fresh, else a new
    /// lookup's (or the one under way's).
    pub async fn resolve(&self) -> Result<Resolved, ResolveError> {
        let asked = Instant::now();
        let mut cache = self.cache.lock().await;
        if let Some((answer, expires)) = &cache.answer
            && Instant::now() < *expires
        {
            return Ok(Resolved {
                answer: answer.clone(),
                cached: true,
            });
        }
        // A lookup that ended after this request asked answers it too.
        if let Some((ended, result)) = &cache.last
            && *ended >= asked
        {
            return result.clone().map(|answer| Resolved {
                answer,
                cached: false,
            });
        }
        let result = self.lookup().await;
        let now = Instant::now();
        if let Ok(answer) = &result {
            let expires = now + Duration::from_secs(u64::from(answer.ttl_s));
            cache.answer = Some((answer.clone(), expires));
        }
        cache.last = Some((now, result.clone()));
        result.map(|answer| Resolved {
            answer,
            cached: false,
        })
    }

    /// Asks each server in turn until one answers.
    async fn lookup(&self) -> Result<Answer, ResolveError> {
        for server in &self.servers {
            match tokio::time::timeout(SERVER_TIMEOUT, ask(server.addr, &self.name)).await {
                Ok(Ok(Reply::Addresses(answer))) => return Ok(answer),
                Ok(Ok(Reply::Other(what))) => {
                    return Err(ResolveError::Refused {
                        name: self.name.clone(),
                        server: server.host.clone(),
                        what,
                    });
                }
                // No answer, or not one to this question: the next server.
                Ok(Err(_)) | Err(_) => {}
            }
        }
        Err(ResolveError::NoAnswer {
            name: self.name.clone(),
            servers: self
                .servers
                .iter()
                .map(|s| s.host.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            timeout_ms: SERVER_TIMEOUT.as_millis(),
        })
    }
}

/// What a server said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Addresses for the name.
    Addresses(Answer),
    /// Anything else, in words (`NXDOMAIN`, `SERVFAIL`, no address).
    Other(String),
}

/// One question to one server, over UDP.
pub async fn ask(server: SocketAddr, name: &str) -> std::io::Result<Reply> {
    let socket = UdpSocket::bind(("127.0.0.1", 0)).await?;
    socket.connect(server).await?;
    let id: u16 = rand::random();
    socket.send(&query(id, name)).await?;
    let mut buf = [0u8; 1500];
    loop {
        let n = socket.recv(&mut buf).await?;
        // An answer to another question (a late one) is not this one's.
        if let Some(reply) = parse_reply(&buf[..n], id) {
            return Ok(reply);
        }
    }
}

/// The question "A records of `name`, class IN", as RFC 1035 lays it out:
/// a header (id, no flags: the servers are authoritative, no recursion
/// is asked for; one question), then the name as length-prefixed labels.
pub fn query(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        // Names come from a validated topology: labels of at most 63 bytes.
        q.push(label.len().min(63) as u8);
        q.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    q.push(0);
    q.extend_from_slice(&[0, 1, 0, 1]);
    q
}

/// The reply to question `id`, or `None` when `packet` is not one (another
/// id, not a response, or cut short).
pub fn parse_reply(packet: &[u8], id: u16) -> Option<Reply> {
    let word = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]))
    };
    if word(0)? != id || packet.get(2)? & 0x80 == 0 {
        return None;
    }
    let rcode = packet.get(3)? & 0x0f;
    let questions = word(4)?;
    let answers = word(6)?;
    match rcode {
        0 => {}
        2 => return Some(Reply::Other("SERVFAIL".to_owned())),
        3 => return Some(Reply::Other("NXDOMAIN (no such name)".to_owned())),
        5 => return Some(Reply::Other("REFUSED".to_owned())),
        other => return Some(Reply::Other(format!("error code {other}"))),
    }
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(packet, at)? + 4;
    }
    let mut addresses = Vec::new();
    let mut ttl_s = u32::MAX;
    for _ in 0..answers {
        at = skip_name(packet, at)?;
        let kind = word(at)?;
        let class = word(at + 2)?;
        let ttl = u32::from_be_bytes(packet.get(at + 4..at + 8)?.try_into().ok()?);
        let len = usize::from(word(at + 8)?);
        let data = packet.get(at + 10..at + 10 + len)?;
        if kind == 1 && class == 1 && len == 4 {
            addresses.push(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
            ttl_s = ttl_s.min(ttl);
        }
        at += 10 + len;
    }
    Some(if addresses.is_empty() {
        Reply::Other("no address".to_owned())
    } else {
        Reply::Addresses(Answer { addresses, ttl_s })
    })
}

/// The offset just past the name at `at`: labels up to an empty one, or
/// up to a compression pointer (two bytes, the rest of the name elsewhere).
fn skip_name(packet: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *packet.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply as a server lays it out: the question echoed, then
    /// answers whose names point back at it (compression).
    fn reply(id: u16, rcode: u8, answers: &[(u16, u32, &[u8])]) -> Vec<u8> {
        let q = query(id, "www.foobar.com");
        let mut p = q[..12].to_vec();
        p[2] = 0x84; // a response, authoritative
        p[3] = rcode;
        p[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
        p.extend_from_slice(&q[12..]);
        for (kind, ttl, data) in answers {
            p.extend_from_slice(&[0xc0, 12]);
            p.extend_from_slice(&kind.to_be_bytes());
            p.extend_from_slice(&[0, 1]);
            p.extend_from_slice(&ttl.to_be_bytes());
            p.extend_from_slice(&(data.len() as u16).to_be_bytes());
            p.extend_from_slice(data);
        }
        p
    }

    #[test]
    fn the_question_names_the_name_in_labels() {
        let q = query(0x1234, "www.foobar.com");
        assert_eq!(&q[..2], &[0x12, 0x34]);
        assert_eq!(&q[4..6], &[0, 1], "one question");
        assert_eq!(&q[12..], b"\x03www\x06foobar\x03com\x00\x00\x01\x00\x01");
    }

    #[test]
    fn a_reply_gives_its_addresses_and_smallest_ttl() {
        let p = reply(7, 0, &[(1, 5, &[10, 0, 0, 1]), (1, 3, &[10, 0, 0, 2])]);
        assert_eq!(
            parse_reply(&p, 7),
            Some(Reply::Addresses(Answer {
                addresses: vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)],
                ttl_s: 3,
            }))
        );
        // Another question's reply, and a cut one, are not this one's.
        assert_eq!(parse_reply(&p, 8), None);
        assert_eq!(parse_reply(&p[..p.len() - 2], 7), None);
    }

    #[test]
    fn errors_and_answers_without_an_address_say_what_came() {
        assert_eq!(
            parse_reply(&reply(1, 3, &[]), 1),
            Some(Reply::Other("NXDOMAIN (no such name)".to_owned()))
        );
        assert_eq!(
            parse_reply(&reply(1, 0, &[(16, 5, b"\x02hi")]), 1),
            Some(Reply::Other("no address".to_owned()))
        );
    }

    #[test]
    fn with_no_server_answering_every_server_is_named() {
        // A bound socket that never answers.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let r = Resolver::new(
            "www.foobar.com",
            vec![Server {
                host: HostName::new("dns-01"),
                addr: silent.local_addr().expect("addr"),
            }],
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let err = rt.block_on(r.resolve()).expect_err("no answer");
        assert!(err.to_string().contains("dns-01"), "{err}");
    }
}
