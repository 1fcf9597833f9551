//! The catalog of AWS errors (errors.toml): names and message patterns to what they mean, which
//! service returns them, and whether a retry helps. Data, not code: a team can read and extend
//! it, and the tests check that every entry loads.

use std::collections::HashMap;

use regex::{Regex, RegexSet};
use serde::Deserialize;

const BUILTIN: &str = include_str!("errors.toml");

/// What a catalog entry says about an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name services print, or for an error recognised only by its message, the catalog's
    /// own words for it (`too many connections`).
    pub code: String,
    /// The service, when only one returns it.
    pub service: Option<String>,
    pub cause: String,
    pub retry: bool,
    pub meaning: String,
    pub advice: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    services: HashMap<String, String>,
    error: Vec<EntrySpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntrySpec {
    code: String,
    service: Option<String>,
    #[serde(default)]
    also: Vec<String>,
    #[serde(default)]
    strict: Vec<String>,
    #[serde(default = "yes")]
    bare: bool,
    cause: String,
    retry: bool,
    meaning: String,
    advice: String,
    #[serde(default)]
    messages: Vec<String>,
}

fn yes() -> bool {
    true
}

/// One way an entry is named, and whether the name alone (outside an SDK's error shape) counts.
#[derive(Debug, Clone, Copy)]
pub struct Name {
    pub entry: usize,
    pub bare: bool,
}

/// The loaded catalog.
#[derive(Debug)]
pub struct Catalog {
    entries: Vec<Entry>,
    /// Every spelling of every entry; a spelling two services share (`RequestLimitExceeded`) has
    /// an entry for each, in file order.
    names: HashMap<String, Vec<Name>>,
    /// Any bare name as a whole word: one pass over a line finds them all.
    bare_names: Regex,
    messages: RegexSet,
    /// The entry of each pattern of `messages`.
    message_entries: Vec<usize>,
    services: HashMap<String, String>,
}

/// Whether the text is a name an SDK could print (letters, digits, `_`), as opposed to a label
/// the catalog gives an error recognised by its message.
fn is_name(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Catalog {
    /// The built-in catalog.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
        CATALOG.get_or_init(|| Catalog::parse(BUILTIN).expect("the built-in AWS error catalog is valid"))
    }

    /// A catalog from TOML text of errors.toml's shape; the error names the entry at fault.
    pub fn parse(text: &str) -> Result<Catalog, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let services = file.services.into_iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
        let mut catalog = Catalog {
            entries: Vec::new(),
            names: HashMap::new(),
            bare_names: Regex::new("$^").map_err(|e| e.to_string())?,
            messages: RegexSet::empty(),
            message_entries: Vec::new(),
            services,
        };
        let mut patterns = Vec::new();
        for spec in file.error {
            let index = catalog.entries.len();
            if !is_name(&spec.code) && spec.messages.is_empty() {
                return Err(format!("{:?} is not a name an SDK prints, so it needs messages", spec.code));
            }
            let spellings = std::iter::once((spec.code.as_str(), spec.bare))
                .filter(|(code, _)| is_name(code))
                .chain(spec.also.iter().map(|a| (a.as_str(), true)))
                .chain(spec.strict.iter().map(|s| (s.as_str(), false)));
            for (name, bare) in spellings {
                if !is_name(name) {
                    return Err(format!("{:?}: {name:?} is not a name an SDK prints", spec.code));
                }
                catalog.names.entry(name.to_string()).or_default().push(Name { entry: index, bare });
            }
            for message in &spec.messages {
                Regex::new(message).map_err(|e| format!("{:?}: message {message:?}: {e}", spec.code))?;
                patterns.push(message.clone());
                catalog.message_entries.push(index);
            }
            catalog.entries.push(Entry {
                code: spec.code,
                service: spec.service,
                cause: spec.cause,
                retry: spec.retry,
                meaning: spec.meaning,
                advice: spec.advice,
            });
        }
        catalog.messages = RegexSet::new(&patterns).map_err(|e| e.to_string())?;
        catalog.bare_names = catalog.bare_regex()?;
        Ok(catalog)
    }

    fn bare_regex(&self) -> Result<Regex, String> {
        let mut bare: Vec<&str> = self
            .names
            .iter()
            .filter(|(_, names)| names.iter().any(|n| n.bare))
            .map(|(name, _)| name.as_str())
            .collect();
        // Longest first, so that `AccessDenied` does not end the match of a longer name.
        bare.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        Regex::new(&format!(r"\b(?:{})\b", bare.join("|"))).map_err(|e| e.to_string())
    }

    pub fn entry(&self, index: usize) -> &Entry {
        &self.entries[index]
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry a printed name stands for, given the service the line names: the service's own
    /// entry when the name has several, else the first. A name the catalog does not know may be
    /// a Java SDK v2 class, which adds `Exception` to the code (`NoSuchKeyException`).
    pub fn lookup(&self, name: &str, service: Option<&str>) -> Option<(usize, bool)> {
        let names = self.names.get(name).or_else(|| name.strip_suffix("Exception").and_then(|n| self.names.get(n)))?;
        let chosen = names
            .iter()
            .find(|n| service.is_some() && self.entries[n.entry].service.as_deref() == service)
            .or_else(|| names.first())?;
        Some((chosen.entry, chosen.bare))
    }

    /// The bare names in a line, with where they start.
    pub fn bare_names_in<'t>(&self, text: &'t str) -> impl Iterator<Item = (usize, &'t str)> + use<'t, '_> {
        self.bare_names.find_iter(text).map(|m| (m.start(), m.as_str()))
    }

    /// The entry of the first message pattern that matches the line.
    pub fn message_entry(&self, text: &str) -> Option<usize> {
        self.messages.matches(text).iter().next().map(|i| self.message_entries[i])
    }

    /// The name reports use for a service as an SDK or tool spelt it (`Amazon S3`,
    /// `AmazonDynamoDBv2`, `s3`); None for a spelling the catalog does not know.
    pub fn service(&self, spelt: &str) -> Option<&str> {
        let key = spelt.trim().to_lowercase();
        self.services.get(&key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_loads_and_every_label_has_messages() {
        let catalog = Catalog::builtin();
        assert!(catalog.entries().len() > 30);
        for entry in catalog.entries() {
            assert!(!entry.meaning.is_empty() && !entry.advice.is_empty(), "{}", entry.code);
        }
        assert_eq!(catalog.service("Amazon S3"), Some("S3"));
        assert_eq!(catalog.service("AmazonDynamoDBv2"), Some("DynamoDB"));
        assert_eq!(catalog.service("Acme Cloud"), None);
    }

    #[test]
    fn a_shared_name_resolves_by_the_service_and_a_java_class_by_its_code() {
        let catalog = Catalog::builtin();
        let ec2 = catalog.lookup("RequestLimitExceeded", None).unwrap().0;
        assert_eq!(catalog.entry(ec2).service.as_deref(), Some("EC2"));
        let ddb = catalog.lookup("RequestLimitExceeded", Some("DynamoDB")).unwrap().0;
        assert_eq!(catalog.entry(ddb).service.as_deref(), Some("DynamoDB"));
        let (key, bare) = catalog.lookup("NoSuchKeyException", Some("S3")).unwrap();
        assert_eq!((catalog.entry(key).code.as_str(), bare), ("NoSuchBucket", true));
        assert_eq!(catalog.lookup("AccessDeniedException", None).map(|(_, bare)| bare), Some(false));
        assert!(catalog.lookup("FrobnicationFault", None).is_none());
    }

    #[test]
    fn entries_that_are_not_names_need_messages_and_bad_patterns_are_named() {
        let entry = |code: &str, messages: &str| {
            format!(
                "[services]\n[[error]]\ncode = \"{code}\"\ncause = \"x\"\nretry = false\nmeaning = \"m\"\nadvice = \"a\"\nmessages = [{messages}]\n"
            )
        };
        let err = Catalog::parse(&entry("disk on fire", "")).unwrap_err();
        assert!(err.contains("needs messages"), "{err}");
        let err = Catalog::parse(&entry("Fire", "'('")).unwrap_err();
        assert!(err.starts_with("\"Fire\": message \"(\""), "{err}");
        assert!(Catalog::parse(&entry("disk on fire", "'(?i)fire'")).is_ok());
    }
}
