//! EC2 as a source of instances: the running instances whose tag names the service
//! (DescribeInstances filtered by `tag:KEY` and `instance-state-name`), each with its private
//! address and, where another tag says it, the version it runs.

use super::ecs::Task;
use crate::collect::aws::{Aws, Error, call_error};
use aws_sdk_ec2::types::Filter;

/// Which instances belong to a service, and what tells their version.
pub struct Tagged<'a> {
    /// The tag whose value is the service's name (`service`).
    pub key: &'a str,
    pub service: &'a str,
    /// The tag whose value is the version, if any (`version`).
    pub version_key: Option<&'a str>,
}

/// The running EC2 instances tagged `key = service`, as hosts of the service (ordered by
/// address, then id).
pub async fn tagged_instances(aws: &Aws, tagged: &Tagged<'_>) -> Result<Vec<Task>, Error> {
    let resource = format!("tag:{}={}", tagged.key, tagged.service);
    let pages = aws
        .ec2()
        .describe_instances()
        .filters(Filter::builder().name(format!("tag:{}", tagged.key)).values(tagged.service).build())
        .filters(Filter::builder().name("instance-state-name").values("running").build())
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| call_error("DescribeInstances", &resource, e))?;
    let mut found: Vec<Task> = pages
        .iter()
        .flat_map(|p| p.reservations())
        .flat_map(|r| r.instances())
        .filter_map(|i| {
            let id = i.instance_id()?.to_string();
            let version = tagged
                .version_key
                .and_then(|key| i.tags().iter().find(|t| t.key() == Some(key)))
                .and_then(|t| t.value())
                .filter(|v| !v.is_empty())
                .map(str::to_string);
            Some(Task { id, address: i.private_ip_address().map(str::to_string), image: None, version })
        })
        .collect();
    found.sort_by(|a, b| a.address.cmp(&b.address).then_with(|| a.id.cmp(&b.id)));
    Ok(found)
}
