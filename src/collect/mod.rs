//! Collectors: evidence from outside the process under audit, as typed records.
//!
//! Plain library: typed results, no printing, no Rhai.

pub mod aws;
pub mod ci_metrics;
pub mod codebuild;
pub mod codepipeline;
pub mod dynamodb;
pub mod kms;
pub mod metric_list;
pub mod pool;
#[cfg(feature = "s3")]
pub mod s3;
