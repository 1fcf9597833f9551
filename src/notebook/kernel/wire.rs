//! The Jupyter messaging protocol's wire format (version 5.3): the connection file, and
//! messages as ZeroMQ frames `[identities..., "<IDS|MSG>", signature, header, parent_header,
//! metadata, content]`, signed with HMAC-SHA256 over the four JSON parts.

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};

pub const PROTOCOL_VERSION: &str = "5.3";
const DELIMITER: &[u8] = b"<IDS|MSG>";

type HmacSha256 = Hmac<sha2::Sha256>;

/// What Jupyter writes into the connection file it starts a kernel with.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Connection {
    #[serde(default = "tcp")]
    pub transport: String,
    pub ip: String,
    pub shell_port: u16,
    pub iopub_port: u16,
    pub stdin_port: u16,
    pub control_port: u16,
    pub hb_port: u16,
    #[serde(default)]
    pub key: String,
    #[serde(default = "hmac_sha256")]
    pub signature_scheme: String,
}

fn tcp() -> String {
    "tcp".into()
}

fn hmac_sha256() -> String {
    "hmac-sha256".into()
}

impl Connection {
    pub fn read(path: &std::path::Path) -> Result<Connection, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let c: Connection =
            serde_json::from_str(&text).map_err(|e| format!("{} is not a connection file: {e}", path.display()))?;
        if c.transport != "tcp" {
            return Err(format!("{}: transport {:?}; this kernel speaks tcp", path.display(), c.transport));
        }
        if c.key.is_empty() && !is_loopback(&c.ip) {
            return Err(format!(
                "{}: an empty key on {}: anyone who reaches that address could run code in this kernel; give a key, or listen on 127.0.0.1",
                path.display(),
                c.ip
            ));
        }
        if !c.key.is_empty() && c.signature_scheme != "hmac-sha256" {
            return Err(format!(
                "{}: signature scheme {:?}; this kernel signs with hmac-sha256",
                path.display(),
                c.signature_scheme
            ));
        }
        Ok(c)
    }

    pub fn endpoint(&self, port: u16) -> String {
        format!("{}://{}:{port}", self.transport, self.ip)
    }
}

/// One message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The ROUTER identities to send a reply back to.
    pub identities: Vec<Bytes>,
    pub header: Value,
    pub parent_header: Value,
    pub metadata: Value,
    pub content: Value,
}

fn signature(key: &[u8], parts: &[&[u8]]) -> Option<HmacSha256> {
    if key.is_empty() {
        return None;
    }
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    Some(mac)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex digits to bytes, or `None` for anything else. Works on bytes, not text: a signature
/// frame comes from the socket before its HMAC is checked, and may hold any bytes at all.
fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16);
    text.chunks_exact(2).map(|pair| Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)).collect()
}

/// Whether `ip` is only reachable from this machine.
fn is_loopback(ip: &str) -> bool {
    ip == "localhost" || ip.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
}

/// The messages seen in this session, to refuse a signed message sent again (replayed by
/// someone who saw it on the wire). A message is known by its whole header, which the signature
/// covers: jupyter_client numbers `msg_id`s per Session object, so its manager and its client
/// both send a `..._0`, but never the same header twice. Bounded: the oldest are forgotten first.
#[derive(Debug, Default)]
pub struct SeenMessages {
    seen: std::collections::HashSet<[u8; 32]>,
    order: std::collections::VecDeque<[u8; 32]>,
}

impl SeenMessages {
    const REMEMBERED: usize = 100_000;

    /// Whether `message` is new; remembers it.
    pub fn first_time(&mut self, message: &Message) -> Result<(), String> {
        let id = message.header["msg_id"].as_str().unwrap_or("");
        if id.is_empty() {
            return Err("a message without a msg_id".into());
        }
        let key = *blake3::hash(message.header.to_string().as_bytes()).as_bytes();
        if !self.seen.insert(key) {
            return Err(format!("message {id} was seen before in this session (a replay)"));
        }
        self.order.push_back(key);
        if self.order.len() > Self::REMEMBERED
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        Ok(())
    }
}

impl Message {
    pub fn msg_type(&self) -> &str {
        self.header["msg_type"].as_str().unwrap_or("")
    }

    /// Read a message from its frames, checking its signature against `key`.
    pub fn decode(frames: Vec<Bytes>, key: &[u8]) -> Result<Message, String> {
        let at = frames.iter().position(|f| f.as_ref() == DELIMITER).ok_or("no <IDS|MSG> delimiter")?;
        let identities = frames[..at].to_vec();
        let parts = &frames[at + 1..];
        if parts.len() < 5 {
            return Err(format!("{} frames after the delimiter; a message has at least 5", parts.len()));
        }
        if let Some(mac) = signature(key, &[&parts[1], &parts[2], &parts[3], &parts[4]]) {
            let given = unhex(&parts[0]).ok_or("the signature is not hex")?;
            mac.verify_slice(&given).map_err(|_| "the signature does not match the connection key")?;
        }
        let json = |i: usize, what: &str| -> Result<Value, String> {
            serde_json::from_slice(&parts[i]).map_err(|e| format!("the {what} is not JSON: {e}"))
        };
        Ok(Message {
            identities,
            header: json(1, "header")?,
            parent_header: json(2, "parent header")?,
            metadata: json(3, "metadata")?,
            content: json(4, "content")?,
        })
    }

    /// The message as frames, signed with `key`.
    pub fn encode(&self, key: &[u8]) -> Vec<Bytes> {
        let parts: Vec<Vec<u8>> = [&self.header, &self.parent_header, &self.metadata, &self.content]
            .iter()
            .map(|v| serde_json::to_vec(v).expect("JSON serializes"))
            .collect();
        let sig = signature(key, &[&parts[0], &parts[1], &parts[2], &parts[3]])
            .map(|mac| hex(&mac.finalize().into_bytes()))
            .unwrap_or_default();
        let mut frames = self.identities.clone();
        frames.push(Bytes::from_static(DELIMITER));
        frames.push(Bytes::from(sig));
        frames.extend(parts.into_iter().map(Bytes::from));
        frames
    }
}

/// A random message id.
fn id() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::fill(&mut b);
    let h = hex(&b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// A new message of `msg_type` in `session`, in answer to `parent` (its identities and header).
pub fn answer(parent: Option<&Message>, session: &str, msg_type: &str, content: Value) -> Message {
    Message {
        identities: parent.map(|p| p.identities.clone()).unwrap_or_default(),
        header: json!({
            "msg_id": id(),
            "session": session,
            "username": "deployclaw",
            "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "msg_type": msg_type,
            "version": PROTOCOL_VERSION,
        }),
        parent_header: parent.map_or(json!({}), |p| p.header.clone()),
        metadata: json!({}),
        content,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_key_is_refused_off_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let file = |ip: &str, key: &str| {
            let path = dir.path().join(format!("{ip}-{}.json", key.len()));
            let text = json!({"ip": ip, "shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5, "key": key});
            std::fs::write(&path, text.to_string()).unwrap();
            Connection::read(&path)
        };
        assert!(file("127.0.0.1", "").is_ok() && file("::1", "").is_ok() && file("localhost", "").is_ok());
        let err = file("0.0.0.0", "").unwrap_err();
        assert!(err.contains("an empty key on 0.0.0.0"), "{err}");
        assert!(file("10.0.0.5", "").is_err());
        assert!(file("0.0.0.0", "k3y").is_ok());
    }

    #[test]
    fn a_message_sent_again_is_refused() {
        let key = b"secret";
        let msg = answer(None, "s", "execute_request", json!({"code": "1"}));
        let frames = msg.encode(key);
        let mut seen = SeenMessages::default();
        assert!(seen.first_time(&Message::decode(frames.clone(), key).unwrap()).is_ok());
        let err = seen.first_time(&Message::decode(frames, key).unwrap()).unwrap_err();
        assert!(err.contains("a replay"), "{err}");
        let other = answer(None, "s", "execute_request", json!({"code": "1"}));
        assert!(seen.first_time(&Message::decode(other.encode(key), key).unwrap()).is_ok(), "a new id is fine");
        // jupyter_client's manager and client both number from 0: same id, other header.
        let mut twin = other.clone();
        twin.header["msg_type"] = json!("interrupt_request");
        assert!(seen.first_time(&twin).is_ok());
    }

    #[test]
    fn messages_round_trip_and_forged_ones_are_refused() {
        let key = b"secret";
        let msg = answer(None, "s1", "status", json!({"execution_state": "idle"}));
        let mut frames = msg.encode(key);
        frames.insert(0, Bytes::from_static(b"client-1"));
        let back = Message::decode(frames.clone(), key).unwrap();
        assert_eq!(back.identities, vec![Bytes::from_static(b"client-1")]);
        assert_eq!(back.msg_type(), "status");
        assert_eq!(back.content, msg.content);
        let n = frames.len();
        frames[n - 1] = Bytes::from_static(b"{\"execution_state\":\"busy\"}");
        assert!(Message::decode(frames, key).unwrap_err().contains("does not match"));
        // The signature is HMAC-SHA256 over header, parent header, metadata and content, as hex.
        let sig = std::str::from_utf8(&msg.encode(key)[1]).unwrap().to_string();
        assert_eq!(sig.len(), 64);
    }

    #[test]
    fn signature_frames_of_any_bytes_are_refused_without_a_panic() {
        let key = b"secret";
        let msg = answer(None, "s1", "status", json!({}));
        for sig in [&b"a\xc3\xa9"[..], "aé".as_bytes(), b"\xff\xfe", b"zz", b"abc", "é".repeat(32).as_bytes()] {
            let mut frames = msg.encode(key);
            frames[1] = Bytes::copy_from_slice(sig);
            assert!(Message::decode(frames, key).is_err(), "{sig:?}");
        }
        assert_eq!(unhex(b"00ffA0"), Some(vec![0, 255, 160]));
    }
}
