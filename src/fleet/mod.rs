//! A service is a set of instances on hosts: where they run (an inventory), how commands reach
//! them (this machine, SSH, SSM Run Command), which JVMs run there (the process table, else
//! `jcmd -l`), and what those JVMs tell through `jcmd` there.
//!
//! Plain library: typed results, no printing, no Rhai.

#[cfg(feature = "ec2")]
pub mod ec2;
pub mod ecs;
pub mod gather;
pub mod inventory;
pub mod jvm;
pub mod launcher;
pub mod near;
pub mod outlier;
pub mod snapshot;
pub mod ssm;
pub mod transport;
