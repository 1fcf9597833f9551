//! AWS KMS as the signer of session logs: an ECC_NIST_P256 key signs each seal with
//! ECDSA_SHA_256 over the 32-byte SHA-256 digest of the DSSE pre-authentication encoding, sent as
//! a RAW message (KMS signs at most 4096 bytes of RAW message, and a seal can be longer).

use super::aws::{Aws, Error, Options, call_error};
use crate::evidence::{self, RemoteSignature, Signer, TrustedKey, sha256};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use std::future::Future;

/// A KMS key that signs seals. The private key never leaves KMS; its public key is fetched once
/// and carried in every seal so that logs verify offline.
pub struct KmsSigner {
    aws: Aws,
    /// The key's ARN, as GetPublicKey names it.
    arn: String,
    public: TrustedKey,
    // Seals are signed from synchronous code, possibly on a thread that is inside another
    // runtime's `block_on`; this runtime is only ever entered from a fresh thread.
    runtime: tokio::runtime::Runtime,
}

impl KmsSigner {
    /// Connect to the key `key` (id, ARN or alias) and check it can sign seals.
    pub fn connect(options: &Options, key: &str) -> Result<KmsSigner, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Input(format!("cannot start the AWS client runtime: {e}")))?;
        let (aws, arn, public) = on_fresh_thread(&runtime, async {
            let aws = Aws::load(options).await?;
            let (arn, public) = public_key(&aws, key).await?;
            Ok::<_, Error>((aws, arn, public))
        })?;
        Ok(KmsSigner { aws, arn, public, runtime })
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    pub fn public_key(&self) -> &TrustedKey {
        &self.public
    }
}

impl Signer for KmsSigner {
    fn key_id(&self) -> &str {
        self.public.key_id()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, evidence::Error> {
        let digest = sha256(message);
        let signature = on_fresh_thread(&self.runtime, sign_digest(&self.aws, &self.arn, &digest))
            .map_err(|e| evidence::Error::Signing(e.to_string()))?;
        // A signature that does not verify here would only be found at verification time.
        if !self.public.verifies(message, &signature) {
            return Err(evidence::Error::Signing(format!(
                "AWS KMS key {} returned a signature that does not verify with its public key",
                self.arn
            )));
        }
        Ok(signature)
    }

    fn remote(&self) -> Option<(&str, &TrustedKey)> {
        Some((&self.arn, &self.public))
    }
}

fn on_fresh_thread<T: Send>(runtime: &tokio::runtime::Runtime, work: impl Future<Output = T> + Send) -> T {
    std::thread::scope(|scope| scope.spawn(|| runtime.block_on(work)).join().expect("the AWS call does not panic"))
}

/// The key's ARN and public key, refusing keys that cannot sign seals.
pub async fn public_key(aws: &Aws, key: &str) -> Result<(String, TrustedKey), Error> {
    let out = aws.kms().get_public_key().key_id(key).send().await.map_err(|e| call_error("GetPublicKey", key, e))?;
    let refuse = |why: String| Error::Call {
        call: "GetPublicKey",
        resource: key.to_string(),
        message: format!(
            "{why}; seals need an asymmetric signing key: aws kms create-key --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY"
        ),
    };
    // CustomerMasterKeySpec is KeySpec's deprecated name; some KMS implementations (moto 5.2.1)
    // send only it.
    #[allow(deprecated)]
    let spec = out.key_spec().cloned().or_else(|| out.customer_master_key_spec().map(|s| KeySpec::from(s.as_str())));
    if spec != Some(KeySpec::EccNistP256) {
        let spec = spec.map_or("unknown".into(), |s| s.as_str().to_string());
        return Err(refuse(format!("the key is {spec}, not ECC_NIST_P256")));
    }
    if out.key_usage() != Some(&KeyUsageType::SignVerify) {
        let usage = out.key_usage().map_or("unknown".into(), |u| u.as_str().to_string());
        return Err(refuse(format!("the key's usage is {usage}, not SIGN_VERIFY")));
    }
    let der = out.public_key().ok_or_else(|| refuse("no public key in the answer".into()))?;
    let public = TrustedKey::from_der(der.as_ref()).map_err(|e| refuse(e.to_string()))?;
    // AWS answers with the key's ARN; name the key by an ARN wherever one is known.
    let answered = out.key_id().unwrap_or(key);
    let name = if answered.starts_with("arn:") || !key.starts_with("arn:") { answered } else { key };
    Ok((name.to_string(), public))
}

async fn sign_digest(aws: &Aws, key: &str, digest: &[u8; 32]) -> Result<Vec<u8>, Error> {
    let out = aws
        .kms()
        .sign()
        .key_id(key)
        .message(Blob::new(digest.to_vec()))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .map_err(|e| call_error("Sign", key, e))?;
    out.signature().map(|b| b.as_ref().to_vec()).ok_or_else(|| Error::Call {
        call: "Sign",
        resource: key.to_string(),
        message: "the answer holds no signature".into(),
    })
}

/// Whether KMS itself confirms a seal's signature (KMS Verify with the key the seal names).
pub async fn confirm(aws: &Aws, signature: &RemoteSignature) -> Result<bool, Error> {
    let sent = aws
        .kms()
        .verify()
        .key_id(&signature.key)
        .message(Blob::new(signature.message.to_vec()))
        .message_type(MessageType::Raw)
        .signature(Blob::new(signature.signature.clone()))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await;
    match sent {
        Ok(out) => Ok(out.signature_valid()),
        // KMS answers an invalid signature with an error, not with `false`.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_kms_invalid_signature_exception()) => Ok(false),
        Err(e) => Err(call_error("Verify", &signature.key, e)),
    }
}
