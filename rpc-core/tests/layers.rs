//! The seam between the engine's layers (DESIGN.md: "each layer knows only the one below it"):
//! the lower layers (frames, messages, values, spills, arguments, errors, names and URIs) name
//! nothing of the layers above them (the connection, services, netrefs, callbacks, ...), not in
//! code, not in tests, not in doc links. A value carries a reference as a slot the connection
//! resolves.
//!
//! The check reads the lower layers' source files. Through the crate root (`crate::`,
//! `$crate::`, `rpc_core::`) a lower file may reach only the lower modules and what `lib.rs`
//! re-exports from them; through `super::` paths that may reach the root, none of the other
//! modules `lib.rs` declares nor what it re-exports from them.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The modules of the lower layers, each a file `src/<name>.rs` and its folder `src/<name>/`.
/// Names and URIs are syntax beside the messages: the errors carry theirs.
const LOWER: &[&str] = &[
    "frame", "protocol", "value", "spill", "args", "error", "name", "uri",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// A lower layer's source file.
struct File {
    /// Its path under `src/`, for messages.
    name: String,
    /// How many `super::` lead from the file's top level to the crate root.
    depth: usize,
    text: String,
}

fn lower_files() -> Vec<File> {
    let mut files = Vec::new();
    for module in LOWER {
        collect(&src(), &format!("{module}.rs"), 1, &mut files);
        collect(&src(), module, 1, &mut files);
    }
    assert!(
        files.iter().any(|f| f.name.starts_with("value/")),
        "no lower files found under {}",
        src().display()
    );
    files
}

/// Adds `relative` (a `.rs` file, or a folder searched recursively) if it exists.
fn collect(root: &Path, relative: &str, depth: usize, out: &mut Vec<File>) {
    let path = root.join(relative);
    if path.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(&path)
            .expect("read a source folder")
            .map(|e| {
                e.expect("a folder entry")
                    .file_name()
                    .into_string()
                    .expect("a UTF-8 name")
            })
            .collect();
        entries.sort();
        for entry in entries {
            collect(root, &format!("{relative}/{entry}"), depth + 1, out);
        }
    } else if relative.ends_with(".rs") && path.is_file() {
        // `x/mod.rs` is module `x` itself, one level up from its siblings.
        let depth = if relative.ends_with("/mod.rs") {
            depth - 1
        } else {
            depth
        };
        let text = fs::read_to_string(&path).expect("read a source file");
        out.push(File {
            name: relative.to_owned(),
            depth,
            text,
        });
    }
}

/// What `lib.rs` puts at the crate root: `(allowed, upper)`. `allowed`: the lower modules and
/// the names re-exported from them; `upper`: every other module and re-exported name.
fn root_names(lib_rs: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut allowed: BTreeSet<String> = LOWER.iter().map(|m| m.to_string()).collect();
    let mut upper = BTreeSet::new();
    for line in lib_rs.lines() {
        let line = line.trim_start();
        let line = line
            .strip_prefix("pub(crate) ")
            .or(line.strip_prefix("pub "))
            .unwrap_or(line);
        if let Some(rest) = line.strip_prefix("mod ") {
            let name: String = rest.chars().take_while(|&c| is_ident_char(c)).collect();
            if !allowed.contains(&name) {
                upper.insert(name);
            }
        }
    }
    for statement in lib_rs.split(';') {
        let Some(at) = statement.find("pub use ") else {
            continue;
        };
        let path = &statement[at + "pub use ".len()..];
        let from = path.split("::").next().unwrap_or_default().trim();
        let names = reexported(path);
        if LOWER.contains(&from) {
            allowed.extend(names);
        } else {
            upper.extend(names);
        }
    }
    (allowed, upper)
}

/// The names a `use` path brings in: its last segment, or each item of its final group
/// (`x as y` brings in `y`).
fn reexported(path: &str) -> Vec<String> {
    let items = match (path.find('{'), path.rfind('}')) {
        (Some(open), Some(close)) => path[open + 1..close].split(',').collect(),
        _ => vec![path.rsplit("::").next().unwrap_or_default()],
    };
    items
        .into_iter()
        .filter_map(|item| item.split(" as ").last())
        .map(|name| name.rsplit("::").next().unwrap_or_default().trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The first identifier of `text`, or of each item if `text` opens a `{...}` group.
fn targets(text: &str) -> Vec<String> {
    let ident = |s: &str| -> String { s.trim_start().chars().take_while(|&c| is_ident_char(c)).collect() };
    let Some(group) = text.strip_prefix('{') else {
        return vec![ident(text)];
    };
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.into_iter().map(ident).filter(|s| !s.is_empty()).collect()
}

/// Every place `file` names something of an upper layer: `(line, path as written)`.
fn violations(file: &File, allowed: &BTreeSet<String>, upper: &BTreeSet<String>) -> Vec<(usize, String)> {
    let text = &file.text;
    let mut found = Vec::new();
    let line_of = |at: usize| text[..at].matches('\n').count() + 1;
    for (at, _) in text.match_indices("::") {
        let before = &text[..at];
        let word_start = before.rfind(|c: char| !is_ident_char(c)).map_or(0, |i| i + 1);
        let word = &before[word_start..];
        let after = &text[at + 2..];
        let bad: Vec<String> = match word {
            "crate" | "rpc_core" if !before[..word_start].ends_with("::") => targets(after)
                .into_iter()
                .filter(|t| !allowed.contains(t))
                .collect(),
            "super" if !after.starts_with("super::") => {
                // The last `super` of a chain: does the chain reach the crate root?
                let mut chain = 1;
                let mut rest = &before[..word_start];
                while let Some(shorter) = rest.strip_suffix("super::") {
                    chain += 1;
                    rest = shorter;
                }
                if chain >= file.depth {
                    targets(after).into_iter().filter(|t| upper.contains(t)).collect()
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        };
        for target in bad {
            found.push((line_of(at), format!("{word}::{target}")));
        }
    }
    found
}

#[test]
fn lower_layers_name_nothing_above_them() {
    let lib_rs = fs::read_to_string(src().join("lib.rs")).expect("read lib.rs");
    let (allowed, upper) = root_names(&lib_rs);
    for name in [
        "connection",
        "service",
        "netref",
        "callback",
        "object",
        "NetRef",
        "Connection",
        "VoidService",
    ] {
        assert!(
            upper.contains(name),
            "lib.rs no longer declares {name}? upper: {upper:?}"
        );
    }
    let mut report = Vec::new();
    for file in lower_files() {
        for (line, path) in violations(&file, &allowed, &upper) {
            report.push(format!("src/{}:{line}: `{path}` is a layer above", file.name));
        }
    }
    assert!(
        report.is_empty(),
        "the lower layers ({}) must not name the layers above them:\n{}",
        LOWER.join(", "),
        report.join("\n")
    );
}

#[test]
fn the_check_finds_what_it_must_and_only_that() {
    let lib_rs = "mod value;\nmod netref;\npub mod service;\npub use netref::NetRef;\n\
                  pub use value::{from_value, Value as V};\npub use service::{Service, VoidService};\n";
    let (allowed, upper) = root_names(lib_rs);
    let check = |depth: usize, text: &str| -> Vec<String> {
        let file = File {
            name: "x.rs".into(),
            depth,
            text: text.into(),
        };
        violations(&file, &allowed, &upper)
            .into_iter()
            .map(|(line, path)| format!("{line}:{path}"))
            .collect()
    };
    assert_eq!(check(1, "use crate::netref::NetRef;"), ["1:crate::netref"]);
    assert_eq!(
        check(1, "\nuse crate::{\n    value::Value,\n    service::Service,\n};"),
        ["2:crate::service"]
    );
    assert_eq!(
        check(1, "/// [`x`](crate::NetRef) and `$crate::VoidService`"),
        ["1:crate::NetRef", "1:crate::VoidService"]
    );
    assert_eq!(check(2, "use super::super::netref;"), ["1:super::netref"]);
    assert_eq!(
        check(1, "fn f() -> rpc_core::V { todo!() }"),
        Vec::<String>::new()
    );
    assert_eq!(
        check(1, "use crate::value::{Value, from_value}; use crate::V;"),
        Vec::<String>::new()
    );
    // Not the crate root: another crate's module, a module's own `super`, a test's `super::*`.
    assert_eq!(
        check(1, "/// `my_crate::NetRef`, `other::crate::netref`"),
        Vec::<String>::new()
    );
    assert_eq!(check(2, "use super::netref; use super::*;"), Vec::<String>::new());
    assert_eq!(check(1, "mod tests { use super::*; }"), Vec::<String>::new());
}
