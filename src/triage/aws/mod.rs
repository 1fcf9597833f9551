//! AWS errors in build and application logs: a catalog of what each code means and whether a
//! retry helps (errors.toml, data), the SDKs' error shapes, and access denials taken apart into
//! principal, role chain, action, resource and the policy that said no.

pub mod catalog;
pub mod iam;
pub mod scan;

pub use catalog::Catalog;
pub use iam::Denial;
pub use scan::{AwsError, Scan, describe, scan};
