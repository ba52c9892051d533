//! Naming and discovery (Pyro5's name server, RPyC's registry): an embedded registry, two
//! servers that register under names with tags and a time to live, a client that finds them
//! by name (`rpcname:`), by tag (`rpcmeta:`) and reaches a published object
//! (`rpc://host:port/NAME`), a watch that prints every change, and one server that dies
//! without a word: its entry expires.
//!
//! Run: `cargo run --release --example naming`
//!
//! Page: `docs/tutorial/08-naming.md`. Everything runs on 127.0.0.1 (free ports) and the
//! example exits non-zero on a wrong answer.

#[path = "common/check.rs"]
mod check;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use check::check;
use rpc::naming::{Change, Filter, MemoryStore, Registry, RegistryService};
use rpc::prelude::*;
use rpc::server::Server;
use rpc::{service, ConnectOptions, Object};

/// A thermostat: the root of its server.
#[derive(Default)]
struct Thermostat {
    target: AtomicI64,
}

#[service]
impl Thermostat {
    /// The temperature it aims at, in °C.
    fn exposed_target(&self) -> i64 {
        self.target.load(Ordering::Relaxed)
    }

    /// Sets the temperature to aim at.
    fn exposed_set_target(&self, celsius: i64) {
        self.target.store(celsius, Ordering::Relaxed);
    }
}

/// A sensor the thermostat's server publishes by name (Pyro's `daemon.register(obj, name)`).
struct Sensor {
    room: &'static str,
    celsius: f64,
}

#[service]
impl Sensor {
    /// Where it is and what it reads.
    fn exposed_read(&self) -> String {
        format!("{}: {:.1} °C", self.room, self.celsius)
    }
}

/// A fan: the root of the other server.
struct Fan;

#[service]
impl Fan {
    /// How fast it turns.
    fn exposed_speed(&self) -> u32 {
        3
    }
}

/// How long an entry lives without a refresh (its registration refreshes it at a third).
const TTL: Duration = Duration::from_millis(900);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The registry, in this process: what `rpc-registry` serves on port 18811.
    let registry = Server::shared(Arc::new(RegistryService::new(MemoryStore::new())))
        .bind("127.0.0.1:0")
        .await?;
    let registry_port = registry.local_addr()?.port();
    tokio::spawn(registry.serve());
    let reg = Registry::connect("127.0.0.1", registry_port).await?;
    println!("registry on 127.0.0.1:{registry_port}");

    // Someone watching the home's entries.
    let mut watch = reg.watch(Filter::prefix("home.")).await?;
    let watcher = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(change) = watch.next().await {
            let change = change?;
            let (what, e) = match &change {
                Change::Registered(e) => ("registered", e),
                Change::Removed(e) => ("removed", e),
                Change::Expired(e) => ("expired", e),
            };
            println!("  watch: {what} {} -> {}", e.name, e.uri);
            seen.push(format!("{what} {}", e.name));
            if seen.len() == 4 {
                break;
            }
        }
        Ok::<_, rpc::Error>(seen)
    });

    // Server 1: a thermostat, with a sensor published under a name.
    let thermostat = Server::new(Thermostat::default).bind("127.0.0.1:0").await?;
    thermostat.publish(
        "sensor.kitchen",
        Object::new(Sensor {
            room: "kitchen",
            celsius: 21.5,
        }),
    )?;
    let thermostat_uri = thermostat.uri();
    let thermostat_stop = thermostat.shutdown_handle();
    tokio::spawn(thermostat.serve());
    let thermostat_entry = reg
        .register(
            "home.thermostat",
            thermostat_uri.clone(),
            ["climate", "floor:1"],
            TTL,
        )
        .await?;

    // Server 2: a fan.
    let fan = Server::new(|| Fan).bind("127.0.0.1:0").await?;
    let fan_uri = fan.uri();
    let fan_stop = fan.shutdown_handle();
    tokio::spawn(fan.serve());
    let fan_entry = reg
        .register("home.fan", fan_uri, ["climate", "floor:2"], TTL)
        .await?;

    // A client finds them by name, by tag, and reaches the published sensor.
    let options = ConnectOptions::new();
    let conn = reg
        .connect_uri("rpcname:home.thermostat", options.clone())
        .await?;
    let t = ThermostatClient::new(conn.root());
    t.set_target(21).await?;
    println!("rpcname:home.thermostat -> target {} °C", t.target().await?);
    check(t.target().await? == 21, "the thermostat keeps its target")?;

    let sensor = reg
        .lookup_uri(&format!("{thermostat_uri}/sensor.kitchen"), options.clone())
        .await?;
    let reading: String = sensor.call("read", ()).await?;
    println!("{thermostat_uri}/sensor.kitchen -> {reading}");
    check(reading == "kitchen: 21.5 °C", "the published sensor answers")?;

    let floor2 = reg.lookup_uri("rpcmeta:climate,floor:2", options.clone()).await?;
    let speed: u32 = floor2.call("speed", ()).await?;
    println!("rpcmeta:climate,floor:2 -> a fan at speed {speed}");
    check(speed == 3, "the tags find the fan")?;
    let climate = reg.list(Filter::everything().with_all(["climate"])).await?;
    let names: Vec<&str> = climate.iter().map(|e| e.name.as_str()).collect();
    println!("entries tagged climate: {names:?}");
    check(names == ["home.fan", "home.thermostat"], "both are listed")?;

    // Three TTLs later both are still there: their registrations keep them alive.
    tokio::time::sleep(TTL * 3).await;
    check(
        reg.list(Filter::prefix("home.")).await?.len() == 2,
        "refreshed entries live",
    )?;

    // The fan's process dies without a word: nothing refreshes its entry, which expires.
    fan_entry.abandon();
    fan_stop.shutdown();
    tokio::time::sleep(TTL * 2).await;
    let gone = reg.lookup("home.fan").await.err().map(|e| e.to_string());
    println!("home.fan after it died -> {gone:?}");
    check(
        gone.is_some_and(|e| e.contains("home.fan")),
        "the fan's entry expired",
    )?;

    // The thermostat stops cleanly: dropping its registration removes the entry at once.
    drop(thermostat_entry);
    thermostat_stop.shutdown();

    let seen = tokio::time::timeout(Duration::from_secs(10), watcher).await???;
    check(
        seen == [
            "registered home.thermostat",
            "registered home.fan",
            "expired home.fan",
            "removed home.thermostat",
        ],
        "the watch saw every change, in order",
    )?;
    println!("done");
    Ok(())
}
