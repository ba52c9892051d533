//! Keepalive on a busy connection: pipelined `null()` calls on a connection with keepalive on
//! (server and client, an interval short enough that the keepalive timer fires during the
//! run) and on one with it off, beside the raw pipelined ping-pong of the same frame sizes.

use std::time::Duration;

use rpc::{ConnectOptions, Connection, Keepalive};

use crate::common::{median, raw_ping_pong};
use crate::sides::{connect, null, null_frames, Pki, Security};
use crate::timing::{null_calls_in_tasks, rotation, run_selected};
use crate::{Goal, Plan};

/// The scenario's name, for filters.
const NAME: &str = "keepalive busy";

/// The goal: keepalive on within this fraction of off.
const GOAL: f64 = 0.03;

/// A connection with keepalive on stays open through a silence of twice its deadline (the
/// pings are answered) and still answers a call.
async fn alive_after_silence(conn: &Connection, deadline: Duration) {
    tokio::time::sleep(deadline * 2).await;
    conn.ping().await.expect("ping after a silence");
    null(&conn.root()).await;
}

/// The figures: calls per second with keepalive on, off, off on a second server (the A/A
/// control) and raw (medians), and the medians of the rounds' own on ÷ off and off ÷ off.
struct Figures {
    on: f64,
    off: f64,
    control: f64,
    raw: f64,
    paired: f64,
    paired_control: f64,
}

/// Rates of the four sides in alternating rounds; every round connects afresh to the rpc
/// servers, so that where the connection's tasks land on the 2 workers is drawn anew each
/// round instead of favouring one side for the whole run.
async fn measure(plan: &Plan, pki: &Pki) -> Figures {
    let interval = plan.keepalive_interval;
    let deadline = interval * 10;
    let on_server = Security::Plain
        .server(pki, move |s| s.keepalive(interval, deadline))
        .await;
    let off_server = Security::Plain.server(pki, |s| s.no_keepalive()).await;
    let control_server = Security::Plain.server(pki, |s| s.no_keepalive()).await;
    let on_options =
        ConnectOptions::new().configure(|c| c.keepalive = Some(Keepalive::new(interval, deadline)));
    let sides = [
        (on_server.port, on_options.clone()),
        (off_server.port, ConnectOptions::new()),
        (control_server.port, ConnectOptions::new()),
    ];
    let (req, rep) = null_frames();
    let mut raw = raw_ping_pong(req, rep).await;
    let (window, calls) = (plan.window, plan.keepalive_calls);
    let mut rates: [Vec<f64>; 4] = Default::default();
    // Round 0 is the warm-up, whose rates are dropped.
    for round in 0..=plan.keepalive_rounds {
        for side in rotation(round, rates.len()) {
            let rate = match sides.get(side) {
                Some((port, options)) => {
                    let conn = connect(*port, Security::Plain, options.clone()).await;
                    let rate = null_calls_in_tasks(&conn.root(), window, calls, "keepalive caller").await;
                    conn.close().await;
                    rate
                }
                None => calls as f64 / raw.pipelined(window, calls).await.as_secs_f64(),
            };
            if round > 0 {
                rates[side].push(rate);
            }
        }
    }
    let ratios = |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(a, b)| a / b).collect() };
    let mut paired = ratios(&rates[0], &rates[1]);
    let mut paired_control = ratios(&rates[2], &rates[1]);
    let on = connect(on_server.port, Security::Plain, on_options).await;
    alive_after_silence(&on, deadline).await;
    on.close().await;
    for server in [on_server, off_server, control_server] {
        server.stop().await;
    }
    let [mut on, mut off, mut control, mut raw] = rates;
    Figures {
        on: median(&mut on),
        off: median(&mut off),
        control: median(&mut control),
        raw: median(&mut raw),
        paired: median(&mut paired),
        paired_control: median(&mut paired_control),
    }
}

/// Measures keepalive on and off if the plan selects it, prints the rows and adds the goal.
pub async fn report(plan: &Plan, pki: &Pki, goals: &mut Vec<Goal>) {
    let Some(f) = run_selected(plan, NAME, measure(plan, pki)).await else {
        return;
    };
    println!();
    println!(
        "{NAME}: null() x {} per round on a fresh connection, {} in flight, plain TCP; keepalive \
         {:?} (deadline 10x) on the server and the client vs off; control: off, a second server; \
         medians of {} rounds",
        plan.keepalive_calls, plan.window, plan.keepalive_interval, plan.keepalive_rounds
    );
    println!(
        "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "keepalive (k calls/s)", "on", "off", "control", "raw TCP", "on÷off", "ctl÷off", "raw÷off"
    );
    let diff = f.on / f.off - 1.0;
    let control = f.control / f.off - 1.0;
    println!(
        "{:<24} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>+8.1}% {:>+8.1}% {:>8.2}x",
        "pipelined null()",
        f.on / 1e3,
        f.off / 1e3,
        f.control / 1e3,
        f.raw / 1e3,
        diff * 100.0,
        control * 100.0,
        f.raw / f.off
    );
    println!(
        "(medians of the rounds' own ratios: on÷off {:+.1}%, control÷off {:+.1}%; the control \
         is the noise floor of the comparison)",
        (f.paired - 1.0) * 100.0,
        (f.paired_control - 1.0) * 100.0
    );
    // The goal is judged on the rounds' own ratios: each "on" round beside the "off" round
    // next to it, so that the load of a shared machine, which drifts between rounds, cancels.
    let paired = f.paired - 1.0;
    goals.push(Goal {
        what: "keepalive on vs off, busy (median of rounds)".to_owned(),
        figure: format!("{:+.1}%", paired * 100.0),
        target: "within 3%",
        met: paired.abs() <= GOAL,
    });
}
