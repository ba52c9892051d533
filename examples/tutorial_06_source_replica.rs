//! Tutorial 6 (QtRemoteObjects' source and replica): the source owns a switch's state as a
//! `Property<bool>` and announces echoes with a `Signal<bool>`; a replica follows the state and
//! calls the source's slot back with every value it sees.
//!
//! Run: `cargo run --release --example tutorial_06_source_replica`
//!
//! Page: `docs/tutorial/06-source-replica.md`. Starts the source on 127.0.0.1 (a free port),
//! toggles the switch three times, checks what the replica and the source saw, and exits.

#[path = "common/check.rs"]
mod check;

use std::sync::Arc;
use std::time::Duration;

use check::check;
use parking_lot::Mutex;
use rpc::events::{Event, Property, Signal, Subscription};
use rpc::prelude::*;
use rpc::server::Server;
use rpc::service;

/// Qt's `SimpleSwitch`: `PROP(bool currState)`, `SLOT(server_slot(bool))`, and a signal.
struct SimpleSwitch {
    curr_state: Property<bool>,
    echo_switch_state: Signal<bool>,
    echoes: Mutex<Vec<bool>>,
}

#[service]
impl SimpleSwitch {
    /// The switch's state: a replica reads it and follows its changes.
    #[attribute]
    fn exposed_curr_state(&self) -> Property<bool> {
        self.curr_state.clone()
    }

    /// Emitted each time a replica echoes a state.
    #[attribute]
    fn exposed_echo_switch_state(&self) -> Signal<bool> {
        self.echo_switch_state.clone()
    }

    /// The slot a replica calls with the state it received.
    fn exposed_server_slot(&self, client_state: bool) {
        println!("  source: echo received {client_state}");
        self.echoes.lock().push(client_state);
        self.echo_switch_state.emit(client_state);
    }
}

/// The next event of a subscription, within 5 s.
async fn next<T>(events: &mut Subscription<T>) -> Result<Event<T>, String>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    match tokio::time::timeout(Duration::from_secs(5), events.next()).await {
        Ok(Some(event)) => Ok(event),
        Ok(None) => Err("the subscription ended".into()),
        Err(_) => Err("no event within 5 s".into()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The source: the owner sets the property and emits the signal locally.
    let switch = Arc::new(SimpleSwitch {
        curr_state: Property::new(false),
        echo_switch_state: Signal::new(),
        echoes: Mutex::default(),
    });
    let server = Server::shared(switch.clone()).bind("127.0.0.1:0").await?;
    let port = server.local_addr()?.port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());

    // The replica: another connection, with the typed client.
    let conn = rpc::connect("127.0.0.1", port).await?;
    let source = SimpleSwitchClient::new(conn.root());
    let state = source.curr_state().await?; // a PropertyReplica<bool>
    let mut states = state.subscribe().await?; // the current value first, then every change
    let mut echoes = source.echo_switch_state().await?.subscribe().await?;
    println!("replica: current state {}", state.get().await?);

    // The source's "timer": toggles the switch three times.
    let owner = switch.curr_state.clone();
    let timer = tokio::spawn(async move {
        for on in [true, false, true] {
            tokio::time::sleep(Duration::from_millis(50)).await;
            owner.set(on);
        }
    });

    // The replica follows: every state it sees goes back to the source's slot.
    let mut seen = Vec::new();
    for _ in 0..4 {
        let Event::Value(on) = next(&mut states).await? else {
            return Err("the replica lagged".into());
        };
        println!("replica: state changed to {on}");
        source.server_slot(on).await?;
        let echo = next(&mut echoes).await?;
        check(
            echo == Event::Value(on),
            "the source echoes what the replica sent",
        )?;
        seen.push(on);
    }
    timer.await?;

    let echoed = switch.echoes.lock().clone();
    println!("replica saw {seen:?}; source got echoes {echoed:?}");
    check(
        seen == [false, true, false, true],
        "the initial state, then three toggles",
    )?;
    check(echoed == seen, "every state echoed, in order")?;
    check(
        state.get().await? == switch.curr_state.get(),
        "replica and source agree",
    )?;

    drop((states, echoes));
    conn.close().await;
    stop.shutdown();
    serving.await??;
    Ok(())
}
