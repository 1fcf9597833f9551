//! Asking every instance at once: a few at a time (each ask is an ssh and a jcmd, a process
//! that waits), each on its own, so that one slow or failing instance delays and spoils only
//! its own answer.

use super::inventory::Instance;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One instance's answer, or why there is none.
pub struct Answer<T> {
    pub instance: Instance,
    pub result: Result<T, String>,
    pub elapsed: Duration,
}

/// What [`each`] reports as it goes: an instance started or finished.
pub enum Progress<'a> {
    Started(&'a Instance),
    Finished(&'a Instance, Duration, Option<&'a str>),
}

/// `ask` of every instance, at most `limit` at a time, in the instances' order.
pub fn each<T: Send, E: std::fmt::Display>(
    instances: &[Instance],
    limit: usize,
    ask: impl Fn(&Instance) -> Result<T, E> + Sync,
    progress: &(dyn Fn(Progress) + Sync),
) -> Vec<Answer<T>> {
    let next = AtomicUsize::new(0);
    let answers: Mutex<Vec<Option<Answer<T>>>> = Mutex::new((0..instances.len()).map(|_| None).collect());
    let workers = limit.clamp(1, instances.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(instance) = instances.get(i) else { break };
                    progress(Progress::Started(instance));
                    let started = Instant::now();
                    let result = ask(instance).map_err(|e| e.to_string());
                    let elapsed = started.elapsed();
                    progress(Progress::Finished(instance, elapsed, result.as_ref().err().map(String::as_str)));
                    let answer = Answer { instance: instance.clone(), result, elapsed };
                    answers.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(answer);
                }
            });
        }
    });
    answers.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::transport::Local;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    fn instances(n: usize) -> Vec<Instance> {
        (0..n)
            .map(|index| Instance {
                service: "svc".into(),
                index,
                host: Arc::new(Local::default()),
                pid: 100 + index as u32,
                command: String::new(),
                version: None,
                task: None,
                deployclaw: None,
            })
            .collect()
    }

    #[test]
    fn every_instance_answers_in_order_at_most_limit_at_once_and_one_failure_stays_its_own() {
        let all = instances(7);
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let seen = Mutex::new(Vec::new());
        let answers = each(
            &all,
            3,
            |i| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(30));
                running.fetch_sub(1, Ordering::SeqCst);
                if i.index == 4 { Err("jcmd failed") } else { Ok(i.pid) }
            },
            &|p| {
                if let Progress::Finished(i, _, error) = p {
                    seen.lock().unwrap().push((i.label(), error.map(str::to_string)));
                }
            },
        );
        assert_eq!(most.load(Ordering::SeqCst), 3);
        let labels: Vec<String> = answers.iter().map(|a| a.instance.label()).collect();
        assert_eq!(labels, (0..7).map(|i| format!("svc[{i}]")).collect::<Vec<_>>());
        assert_eq!(answers[4].result.as_ref().unwrap_err(), "jcmd failed");
        assert_eq!(answers.iter().filter(|a| a.result.is_ok()).count(), 6);
        assert_eq!(seen.lock().unwrap().len(), 7);
        assert!(each(&[], 4, |i: &Instance| Ok::<_, String>(i.pid), &|_| {}).is_empty());
    }
}
