//! DSSE envelopes (https://github.com/secure-systems-lab/dsse) carrying in-toto Statements.

use super::{Error, Signer};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Payload type of an in-toto attestation.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Predicate type of a deployclaw session seal.
pub const PREDICATE_TYPE: &str = "https://deployclaw.dev/attestation/session-seal/v1";
/// in-toto Statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// DSSE pre-authentication encoding: what is actually signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EnvelopeSignature {
    pub keyid: String,
    /// Base64 signature over the PAE.
    pub sig: String,
}

/// A signed DSSE envelope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Base64 of the payload bytes.
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

impl Envelope {
    /// Sign `payload` (the canonical JSON of an in-toto statement).
    pub fn sign(payload: &[u8], signer: &dyn Signer) -> Result<Envelope, Error> {
        let sig = signer.sign(&pae(PAYLOAD_TYPE, payload))?;
        Ok(Envelope {
            payload_type: PAYLOAD_TYPE.to_string(),
            payload: B64.encode(payload),
            signatures: vec![EnvelopeSignature { keyid: signer.key_id().to_string(), sig: B64.encode(sig) }],
        })
    }

    /// The decoded payload bytes.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, String> {
        B64.decode(&self.payload).map_err(|e| format!("payload is not base64: {e}"))
    }

    /// The decoded payload as JSON.
    pub fn statement(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.payload_bytes()?).map_err(|e| format!("payload is not JSON: {e}"))
    }
}

pub(crate) fn decode_sig(sig: &str) -> Option<Vec<u8>> {
    B64.decode(sig).ok()
}
