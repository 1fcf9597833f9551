//! ECS as a source of instances: the running tasks of a service (ListTasks, DescribeTasks),
//! each with the address of its network interface and the tag of its image, which names the
//! version it runs.

use crate::collect::aws::{Aws, Error, call_error};

/// Where an instance of a service runs, as AWS tells it: a running task of an ECS service, or
/// an EC2 instance (see `ec2`).
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The last part of the task's ARN, or the EC2 instance id.
    pub id: String,
    /// The private IPv4 address of its network interface (`awsvpc`), if AWS reports one.
    pub address: Option<String>,
    /// The first container's image, e.g. `123.dkr.ecr.eu-west-1.amazonaws.com/api:2.4.1`.
    pub image: Option<String>,
    /// The version, where a tag names it (EC2); for a task, the image's tag says it.
    pub version: Option<String>,
}

impl Task {
    /// The version it runs: the tagged one, else its image's tag.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref().or_else(|| self.image.as_deref().and_then(image_tag))
    }
}

/// The tag of an image reference: `api:2.4.1` -> `2.4.1`. None for a digest (`api@sha256:...`)
/// or no tag (`registry:5000/api`: that colon is a port).
pub fn image_tag(image: &str) -> Option<&str> {
    if image.contains('@') {
        return None;
    }
    let name = image.rsplit('/').next().unwrap_or(image);
    name.split_once(':').map(|(_, tag)| tag).filter(|t| !t.is_empty())
}

/// The address in a task's description: the ENI attachment's `privateIPv4Address`, else a
/// container's network interface.
fn address(task: &aws_sdk_ecs::types::Task) -> Option<String> {
    let from_attachment = task
        .attachments()
        .iter()
        .filter(|a| a.r#type() == Some("ElasticNetworkInterface"))
        .flat_map(|a| a.details())
        .find(|d| d.name() == Some("privateIPv4Address"))
        .and_then(|d| d.value())
        .map(str::to_string);
    from_attachment.or_else(|| {
        task.containers()
            .iter()
            .flat_map(|c| c.network_interfaces())
            .find_map(|n| n.private_ipv4_address())
            .map(str::to_string)
    })
}

/// The running tasks of `service` in `cluster`.
pub async fn service_tasks(aws: &Aws, cluster: &str, service: &str) -> Result<Vec<Task>, Error> {
    let client = aws.ecs();
    let resource = format!("{cluster}/{service}");
    let pages = client
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| call_error("ListTasks", &resource, e))?;
    let arns: Vec<String> = pages.iter().flat_map(|p| p.task_arns()).cloned().collect();
    let mut tasks = Vec::new();
    // DescribeTasks takes at most 100 tasks per call.
    for chunk in arns.chunks(100) {
        let described = client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| call_error("DescribeTasks", &resource, e))?;
        let group = format!("service:{service}");
        for task in described.tasks() {
            // ECS filters by service already; the group says so too, and is checked in case a
            // stand-in (moto) does not filter.
            if task.group().is_some_and(|g| g != group) {
                continue;
            }
            let arn = task.task_arn().unwrap_or_default();
            tasks.push(Task {
                id: arn.rsplit('/').next().unwrap_or(arn).to_string(),
                address: address(task),
                image: task.containers().first().and_then(|c| c.image()).map(str::to_string),
                version: None,
            });
        }
    }
    tasks.sort_by(|a, b| a.address.cmp(&b.address).then_with(|| a.id.cmp(&b.id)));
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags_are_versions_and_registry_ports_are_not() {
        assert_eq!(image_tag("123.dkr.ecr.eu-west-1.amazonaws.com/api:2.4.1"), Some("2.4.1"));
        assert_eq!(image_tag("api:v2"), Some("v2"));
        assert_eq!(image_tag("registry:5000/api"), None);
        assert_eq!(image_tag("registry:5000/api:1.0"), Some("1.0"));
        assert_eq!(image_tag("api@sha256:abc"), None);
        assert_eq!(image_tag("api:"), None);
        assert_eq!(image_tag(""), None);
    }
}
