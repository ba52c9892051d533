//! `rpc describe URI`: what an object exposes (RPyC's `dir` and `inspect`): its methods with
//! their signatures, its attributes, and their docs, as text or JSON.

use std::fmt::Write as _;

use clap::Args;
use rpc_core::{AttributeInfo, Description, MethodInfo};
use rpc_server::cli::ClientArgs;

use crate::failure::{escape_controls, within, Failure};
use crate::output;
use crate::target::{open, Target};

/// Lists the methods and attributes of the object at URI, with their signatures and docs.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct DescribeCmd {
    /// The server: rpc://HOST:PORT or HOST:PORT.
    #[arg(value_name = "URI")]
    uri: Target,

    /// Print the description as JSON (name, methods, attributes) instead of text.
    #[arg(long)]
    json: bool,
}

const AFTER_HELP: &str = "\
Examples:
  rpc describe 127.0.0.1:18861
  rpc describe rpc://127.0.0.1:18861 --json";

/// Runs the command.
pub async fn run(cmd: DescribeCmd, client: &ClientArgs) -> Result<(), Failure> {
    let options = client.connect_options().map_err(Failure::Usage)?;
    let what = format!("describe {}", cmd.uri);
    let description = within(client.timeout.0, &what, async {
        let object = open(&cmd.uri, options).await?;
        object.describe().await.map_err(|e| Failure::rpc(&what, &e))
    })
    .await?;
    if cmd.json {
        return output::json(&description, true);
    }
    output::line(render(&description).trim_end())
}

/// The description as text: the name, then each method's signature and each attribute's
/// type, with its doc indented below. What the peer wrote is shown with control characters
/// escaped.
fn render(description: &Description) -> String {
    let mut text = format!("{}\n", clean(&description.name));
    if !description.methods.is_empty() {
        text.push_str("\nMethods:\n");
        for method in &description.methods {
            item(&mut text, &signature(method), &method.doc);
        }
    }
    if !description.attributes.is_empty() {
        text.push_str("\nAttributes:\n");
        for attribute in &description.attributes {
            item(&mut text, &attribute_line(attribute), &attribute.doc);
        }
    }
    text
}

/// `async fn slow(ms: u64) -> String`, `oneway fn log(line: String)`.
fn signature(method: &MethodInfo) -> String {
    let params: Vec<String> = method
        .params
        .iter()
        .map(|(name, ty)| format!("{name}: {ty}"))
        .collect();
    let mut line = String::new();
    if method.oneway {
        line.push_str("oneway ");
    }
    if method.is_async {
        line.push_str("async ");
    }
    let _ = write!(line, "{}({})", method.name, params.join(", "));
    if !method.oneway && !matches!(method.returns.as_str(), "" | "()") {
        let _ = write!(line, " -> {}", method.returns);
    }
    clean(&line)
}

/// `the_real_answer_though: i64 (read-only)`.
fn attribute_line(attribute: &AttributeInfo) -> String {
    let access = if attribute.settable {
        "settable"
    } else {
        "read-only"
    };
    clean(&format!("{}: {} ({access})", attribute.name, attribute.ty))
}

/// One entry: its line, then its doc's lines indented.
fn item(text: &mut String, line: &str, doc: &str) {
    let _ = writeln!(text, "  {line}");
    for doc_line in escape_controls(doc.trim(), true).lines() {
        let _ = writeln!(text, "      {}", doc_line.trim_end());
    }
}

/// A name or type from the peer, on one line.
fn clean(text: &str) -> String {
    escape_controls(text, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(name: &str, params: &[(&str, &str)], returns: &str, doc: &str) -> MethodInfo {
        MethodInfo {
            name: name.into(),
            params: params.iter().map(|(n, t)| ((*n).into(), (*t).into())).collect(),
            returns: returns.into(),
            is_async: false,
            oneway: false,
            doc: doc.into(),
        }
    }

    #[test]
    fn methods_and_attributes_with_their_docs() {
        let mut slow = method("slow", &[("ms", "u64")], "String", "Sleeps.\nThen says so.");
        slow.is_async = true;
        let description = Description {
            name: "demo".into(),
            methods: vec![
                method("test", &[("num", "i64")], "i64", "Adds one."),
                slow,
                method("ping", &[], "()", ""),
            ],
            attributes: vec![AttributeInfo {
                name: "answer".into(),
                ty: "i64".into(),
                settable: false,
                doc: "The answer.".into(),
            }],
        };
        assert_eq!(
            render(&description),
            "demo\n\nMethods:\n  test(num: i64) -> i64\n      Adds one.\n  async slow(ms: u64) -> String\n      \
             Sleeps.\n      Then says so.\n  ping()\n\nAttributes:\n  answer: i64 (read-only)\n      The answer.\n"
        );
    }

    #[test]
    fn what_the_peer_wrote_cannot_drive_the_terminal() {
        let description = Description {
            name: "evil\u{1b}[2J".into(),
            methods: vec![method("f\nx", &[], "()", "doc\u{7}")],
            attributes: vec![],
        };
        let text = render(&description);
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text:?}");
        assert!(text.contains("f\\nx()"), "{text:?}");
    }
}
