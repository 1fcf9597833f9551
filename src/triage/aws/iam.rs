//! Access-denied messages taken apart: who was denied (the principal and the role chain it came
//! through), which action on which resource, and which kind of policy said no.
//!
//! IAM's message shape, as every SDK prints it: `User: ARN is not authorized to perform: ACTION
//! on resource: RESOURCE because no identity-based policy allows the ACTION action` (or `with an
//! explicit deny in a service control policy`, ...). GitHub's OIDC login prints `Not authorized
//! to perform sts:AssumeRoleWithWebIdentity` without a principal.

use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

/// Who was denied what.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Denial {
    /// The principal's ARN, when the message gives it.
    pub principal: Option<String>,
    pub account: Option<String>,
    /// The IAM action (`s3:PutObject`).
    pub action: String,
    pub resource: Option<String>,
    /// Which policy said no (`no identity-based policy allows the s3:PutObject action`,
    /// `an explicit deny in a service control policy`).
    pub reason: Option<String>,
    /// The hops from the principal to what was denied: `role CodeBuildRole (session 7f3c)`,
    /// then `role deploy` for an AssumeRole, each as a person would say it.
    pub chain: Vec<String>,
}

impl Denial {
    /// One line: `role A (session s) → role B: sts:AssumeRole denied (reason)`.
    pub fn describe(&self) -> String {
        let who = if self.chain.is_empty() { "the caller".to_string() } else { self.chain.join(" → ") };
        // An AssumeRole's resource is already the chain's last hop.
        let target = match &self.resource {
            Some(resource) if !self.assumes_role() => format!(" on {resource}"),
            _ => String::new(),
        };
        let why = self.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default();
        format!("{who}: {}{target} denied{why}", self.action)
    }

    fn assumes_role(&self) -> bool {
        self.action.starts_with("sts:AssumeRole") && self.resource.as_deref().is_some_and(|r| r.contains(":role/"))
    }
}

fn denial_shape() -> &'static Regex {
    static SHAPE: OnceLock<Regex> = OnceLock::new();
    SHAPE.get_or_init(|| {
        Regex::new(
            r"(?x)
            (?:(?P<principal>arn:aws[\w-]*:(?:iam|sts)::\d*:[^\s,;]+)\s+is\s+not\s+authorized\s+to\s+perform:?
              | (?i:not\s+authorized\s+to\s+perform):? )
            \s*(?P<action>[\w-]+:[\w*]+)
            (?:\s+on\s+resource:?\s*(?P<resource>[^\s,;]+))?
            (?:\s+(?:because\s+|with\s+)(?P<reason>[^.;]{1,200}))?",
        )
        .expect("the denial shape is a valid regex")
    })
}

/// The denial a line states, if it states one.
pub fn denial(text: &str) -> Option<Denial> {
    let found = denial_shape().captures(text)?;
    let principal = found.name("principal").map(|m| m.as_str().to_string());
    let action = found.name("action")?.as_str().to_string();
    let resource = found
        .name("resource")
        .map(|m| m.as_str().trim_matches(['"', '\'', '(', ')']).trim_end_matches('.').to_string());
    let reason = found.name("reason").map(|m| m.as_str().trim().trim_end_matches(['"', '\'', ')']).to_string());
    let mut chain: Vec<String> = principal.as_deref().map(describe_principal).into_iter().collect();
    if action.starts_with("sts:AssumeRole")
        && let Some(role) = resource.as_deref().filter(|r| r.contains(":role/"))
    {
        chain.push(describe_principal(role));
    }
    let account = principal.as_deref().and_then(account_of);
    Some(Denial { principal, account, action, resource, reason, chain })
}

/// The account of an IAM or STS ARN (`arn:aws:iam::123456789012:role/x`).
fn account_of(arn: &str) -> Option<String> {
    let account = arn.split(':').nth(4)?;
    (!account.is_empty()).then(|| account.to_string())
}

/// An IAM or STS ARN as a person names it: `role deploy`, `role CodeBuildRole (session 7f3c)`,
/// `user ci-bot`, `the root user of 123456789012`; the ARN itself when its shape is unknown.
pub fn describe_principal(arn: &str) -> String {
    let Some(path) = arn.splitn(6, ':').nth(5) else { return arn.to_string() };
    let (kind, rest) = path.split_once('/').unwrap_or((path, ""));
    let last = rest.rsplit('/').next().unwrap_or(rest);
    match kind {
        "assumed-role" => match rest.split_once('/') {
            Some((role, session)) => format!("role {role} (session {session})"),
            None => format!("role {rest}"),
        },
        "role" => format!("role {last}"),
        "user" => format!("user {last}"),
        "federated-user" => format!("federated user {last}"),
        "root" => match account_of(arn) {
            Some(account) => format!("the root user of {account}"),
            None => "the root user".to_string(),
        },
        _ => arn.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assume_role_denial_names_both_ends_of_the_chain() {
        let line = "An error occurred (AccessDenied) when calling the AssumeRole operation: User: arn:aws:sts::111122223333:assumed-role/CodeBuildRole/AWSCodeBuild-7f3c is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444455556666:role/deploy";
        let d = denial(line).unwrap();
        assert_eq!(d.account.as_deref(), Some("111122223333"));
        assert_eq!(d.chain, ["role CodeBuildRole (session AWSCodeBuild-7f3c)", "role deploy"]);
        assert_eq!(d.describe(), "role CodeBuildRole (session AWSCodeBuild-7f3c) → role deploy: sts:AssumeRole denied");
    }

    #[test]
    fn an_action_denial_keeps_the_resource_and_the_policy_that_said_no() {
        let line = r#"api error AccessDenied: User: arn:aws:iam::111122223333:user/ci-bot is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::builds/app.zip" with an explicit deny in a service control policy"#;
        let d = denial(line).unwrap();
        assert_eq!(d.resource.as_deref(), Some("arn:aws:s3:::builds/app.zip"));
        assert_eq!(d.reason.as_deref(), Some("an explicit deny in a service control policy"));
        assert_eq!(
            d.describe(),
            "user ci-bot: s3:PutObject on arn:aws:s3:::builds/app.zip denied (an explicit deny in a service control policy)"
        );
    }

    #[test]
    fn a_denial_without_a_principal_and_lines_without_one() {
        let d =
            denial("Error: Could not assume role with OIDC: Not authorized to perform sts:AssumeRoleWithWebIdentity")
                .unwrap();
        assert_eq!((d.principal, d.action.as_str(), d.chain.len()), (None, "sts:AssumeRoleWithWebIdentity", 0));
        assert_eq!(denial("ERROR 1045 (28000): Access denied for user 'app'@'10.0.0.1'"), None);
        assert_eq!(denial("is not authorized to perform: "), None);
        assert_eq!(describe_principal("arn:aws:iam::123456789012:root"), "the root user of 123456789012");
        assert_eq!(
            describe_principal("arn:aws:iam::123456789012:role/service-role/codebuild-app"),
            "role codebuild-app"
        );
        assert_eq!(describe_principal("not an arn"), "not an arn");
    }
}
