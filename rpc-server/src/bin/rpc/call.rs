//! `rpc call URI METHOD [JSON-ARG…]`: calls a method with JSON arguments and prints the result
//! as JSON (grpcurl's and `pyro5-nsc`'s everyday use).

use std::collections::HashMap;

use clap::Args;
use futures::future::join_all;
use rpc_core::{NetRef, ObjectRef, Value};
use rpc_server::cli::ClientArgs;

use crate::failure::{within, Failure};
use crate::json;
use crate::output;
use crate::target::{open, Target};

/// Most references in one result whose service names are asked for (one `describe` each); the
/// others print as `<ref ?#ID>`.
const MAX_NAMED_REFERENCES: usize = 64;

/// Calls METHOD on the object at URI with JSON arguments and prints its result as JSON.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct CallCmd {
    /// The server: rpc://HOST:PORT or HOST:PORT.
    #[arg(value_name = "URI")]
    uri: Target,

    /// The method to call.
    method: String,

    /// The arguments, one JSON value each (quoted for the shell: `'"text"'`, `'[1,2]'`).
    #[arg(value_name = "JSON-ARG", allow_negative_numbers = true)]
    args: Vec<String>,

    /// Print the result indented over several lines.
    #[arg(long)]
    pretty: bool,
}

const AFTER_HELP: &str = "\
Arguments and results: null, true/false, numbers, \"strings\", [arrays] and {\"objects\"} as themselves;
bytes as {\"$bytes\": \"<base64>\"} in arguments and as a \"<base64>\" string in results; an object the
server passes by reference as \"<ref NAME#ID>\".

Examples:
  rpc call 127.0.0.1:18861 test 41
  rpc call rpc://127.0.0.1:18861 echo '{\"name\": \"ada\", \"tags\": [\"x\", \"y\"]}'
  rpc call 127.0.0.1:18861 echo '{\"$bytes\": \"aGVsbG8=\"}'
  rpc call 127.0.0.1:18861 slow 2000 --timeout 5s
  rpc call server.example:18861 whoami --ca-file ca.pem --secret-file secret.txt";

/// Runs the command.
pub async fn run(cmd: CallCmd, client: &ClientArgs) -> Result<(), Failure> {
    let args = json::arguments(&cmd.args).map_err(Failure::Usage)?;
    let options = client.connect_options().map_err(Failure::Usage)?;
    let what = format!("call {} on {}", cmd.method, cmd.uri);
    let result = within(client.timeout.0, &what, async {
        let object = open(&cmd.uri, options).await?;
        let value = object
            .call_value(&cmd.method, args)
            .await
            .map_err(|e| Failure::rpc(&what, &e))?;
        let names = reference_names(&value).await;
        Ok(json::from_value(&value, &|r| label(r, &names)))
    })
    .await?;
    output::json(&result, cmd.pretty)
}

/// The service names of the peer's objects `value` refers to, by id: one `describe` each
/// (at most [`MAX_NAMED_REFERENCES`], all at once); a name that cannot be had is left out.
async fn reference_names(value: &Value) -> HashMap<u64, String> {
    let mut remote: HashMap<u64, NetRef> = HashMap::new();
    for netref in json::references(value).into_iter().filter_map(ObjectRef::remote) {
        if remote.len() == MAX_NAMED_REFERENCES {
            break;
        }
        remote.entry(netref.id()).or_insert(netref);
    }
    let described = join_all(remote.into_values().map(|netref| async move {
        let description = netref.describe().await.ok()?;
        Some((netref.id(), description.name))
    }))
    .await;
    described.into_iter().flatten().collect()
}

/// How a reference prints: `<ref NAME#ID>` for the peer's objects (`?` for a name not known),
/// `<ref NAME#local>` for one of ours coming back.
fn label(reference: &ObjectRef, names: &HashMap<u64, String>) -> String {
    if let Some(netref) = reference.remote() {
        let name = names.get(&netref.id()).map_or("?", String::as_str);
        return format!("<ref {name}#{}>", netref.id());
    }
    match reference.local() {
        Some(object) => format!("<ref {}#local>", object.service().name()),
        None => "<ref ?>".to_owned(),
    }
}
