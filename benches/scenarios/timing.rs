//! How the scenarios time: sequential samples, alternating rpc and raw rounds, calls from
//! several tasks at once, bounded waits and the time limit of a scenario.

use std::future::Future;
use std::time::{Duration, Instant};

use rpc::NetRef;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::common::RawClient;
use crate::Plan;

/// No scenario may run longer than this; a hang fails the benchmark instead of stalling it.
const SCENARIO_LIMIT: Duration = Duration::from_secs(180);

/// Runs `scenario` under [`SCENARIO_LIMIT`] if the plan selects it by `name`; `None` if not.
pub async fn run_selected<T>(plan: &Plan, name: &str, scenario: impl Future<Output = T>) -> Option<T> {
    if !plan.selects(name) {
        return None;
    }
    match tokio::time::timeout(SCENARIO_LIMIT, scenario).await {
        Ok(result) => Some(result),
        Err(_) => panic!("scenario {name} did not finish within {SCENARIO_LIMIT:?}"),
    }
}

/// Times `n` sequential runs of `op`, appending nanoseconds to `out`.
pub async fn time_each<F, Fut>(n: usize, out: &mut Vec<u64>, mut op: F)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    for i in 0..n {
        let start = Instant::now();
        op(i).await;
        out.push(start.elapsed().as_nanos() as u64);
    }
}

/// Times `n` samples of `trips` raw round trips each, appending nanoseconds to `out`.
pub async fn raw_samples<S: AsyncRead + AsyncWrite + Unpin>(
    n: usize,
    trips: usize,
    raw: &mut RawClient<S>,
    out: &mut Vec<u64>,
) {
    for _ in 0..n {
        let start = Instant::now();
        for _ in 0..trips {
            raw.round_trip().await;
        }
        out.push(start.elapsed().as_nanos() as u64);
    }
}

/// Sequential samples of `op` beside raw samples of `trips` round trips each: `plan.warmup`
/// untimed runs of each side, then `plan.samples` timed ones of each side in `plan.rounds`
/// alternating rounds. Returns the (rpc, raw) nanoseconds.
pub async fn alternating<F, Fut>(
    plan: &Plan,
    raw: &mut RawClient,
    trips: usize,
    mut op: F,
) -> (Vec<u64>, Vec<u64>)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let (mut rpc_ns, mut raw_ns) = (Vec::with_capacity(plan.samples), Vec::with_capacity(plan.samples));
    let mut warm = Vec::new();
    time_each(plan.warmup, &mut warm, &mut op).await;
    raw_samples(plan.warmup, trips, raw, &mut warm).await;
    let per_round = plan.samples / plan.rounds;
    for _ in 0..plan.rounds {
        time_each(per_round, &mut rpc_ns, &mut op).await;
        raw_samples(per_round, trips, raw, &mut raw_ns).await;
    }
    (rpc_ns, raw_ns)
}

/// Runs `window` tasks made by `task` at once and waits for them all (`what` names them if one
/// panics); returns the time from just before the first was spawned.
pub async fn in_tasks<F, Fut>(window: usize, what: &str, task: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..window).map(|_| tokio::spawn(task())).collect();
    for task in tasks {
        task.await.expect(what);
    }
    start.elapsed()
}

/// `total` null calls on `root` from `window` tasks sharing its connection (`what` names them
/// if one panics); returns calls per second.
pub async fn null_calls_in_tasks(root: &NetRef, window: usize, total: usize, what: &str) -> f64 {
    let per_task = total / window;
    let elapsed = in_tasks(window, what, || {
        let root = root.clone();
        async move {
            for _ in 0..per_task {
                root.call::<()>("null", ()).await.expect("null call");
            }
        }
    })
    .await;
    (per_task * window) as f64 / elapsed.as_secs_f64()
}

/// The order of `sides` sides in round `round`: each round starts one further on (the
/// `secure` and `naming` benches; `calls` alternates rpc and raw its own way).
#[allow(dead_code)]
pub fn rotation(round: usize, sides: usize) -> impl Iterator<Item = usize> {
    (0..sides).map(move |k| (round + k) % sides)
}

/// Waits (bounded) until `count()` gives 0; returns what it gave last.
pub async fn settles_to_zero<F, Fut>(mut count: F) -> usize
where
    F: FnMut() -> Fut,
    Fut: Future<Output = usize>,
{
    let mut last = count().await;
    for _ in 0..500 {
        if last == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        last = count().await;
    }
    last
}
