//! Replicated properties and signals (QtRemoteObjects style): a server publishes a thermostat's
//! temperature and alarms; two clients follow them.
//!
//! Run: `cargo run --example events`
//!
//! Starts a server on 127.0.0.1 (a free port) whose service exposes a `Property<f64>` and a
//! `Signal<String>`. Two clients subscribe; the server changes the temperature and raises an
//! alarm, and each client's stream shows the current value first, then every change. Exits by
//! itself.

use std::sync::Arc;
use std::time::Duration;

use rpc::events::{Event, Property, PropertyReplica, Signal, SignalReplica, Subscription};
use rpc::prelude::*;
use rpc::server::Server;
use rpc::service;

/// The published object: a temperature and an alarm signal.
struct Thermostat {
    temperature: Property<f64>,
    alarm: Signal<String>,
}

#[service]
impl Thermostat {
    /// The current temperature, followed by subscribers.
    #[attribute]
    fn exposed_temperature(&self) -> Property<f64> {
        self.temperature.clone()
    }

    /// Alarms, delivered to every subscriber.
    #[attribute]
    fn exposed_alarm(&self) -> Signal<String> {
        self.alarm.clone()
    }
}

/// Waits (bounded) for the next event of a subscription.
async fn next<T>(who: &str, events: &mut Subscription<T>) -> Result<Event<T>, String>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    match tokio::time::timeout(Duration::from_secs(5), events.next()).await {
        Ok(Some(event)) => Ok(event),
        Ok(None) => Err(format!("{who}: the subscription ended")),
        Err(_) => Err(format!("{who}: no event within 5 s")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temperature = Property::new(20.5);
    let alarm = Signal::new();
    let thermostat = Arc::new(Thermostat {
        temperature: temperature.clone(),
        alarm: alarm.clone(),
    });
    let server = Server::shared(thermostat).bind("127.0.0.1:0").await?;
    let port = server.local_addr()?.port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());

    let mut followers = Vec::new();
    for name in ["kitchen", "hallway"] {
        let conn = rpc::connect("127.0.0.1", port).await?;
        let temp: PropertyReplica<f64> = conn.root().getattr("temperature").await?;
        let alarms: SignalReplica<String> = conn.root().getattr("alarm").await?;
        let mut temps = temp.subscribe().await?;
        let first = next(name, &mut temps).await?;
        println!("{name}: subscribed, current temperature {first:?}");
        followers.push((name, conn, temps, alarms.subscribe().await?));
    }

    // The owner changes the value and raises an alarm; every follower sees both.
    temperature.set(23.0);
    alarm.emit("too hot".to_owned());
    for (name, _conn, temps, alarms) in &mut followers {
        println!("{name}: temperature {:?}", next(name, temps).await?);
        println!("{name}: alarm {:?}", next(name, alarms).await?);
    }

    for (_, conn, _, _) in followers {
        conn.close().await;
    }
    stop.shutdown();
    serving.await??;
    Ok(())
}
