use std::path::Path;

use super::*;
use crate::name::NameError;
use crate::protocol::MAX_NAME_LEN;

fn parsed(text: &str) -> Uri {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} does not parse: {e}"))
}

#[test]
fn every_form_parses_and_displays_back() {
    let forms = [
        "rpc://127.0.0.1:18861",
        "rpc://localhost:1/sensor.kitchen",
        "rpc://my-host.example_1.org:65535/a/b:c#d",
        "rpc://[::1]:18861",
        "rpc://[2001:db8::7]:443/x",
        "rpc+tls://db.internal:18812",
        "rpc+tls://[::1]:18812/ledger",
        "rpc+unix:///run/app.sock",
        "rpc+unix:///tmp/with space/app.sock#sensor.kitchen",
        "rpcname:home.thermostat",
        "rpcname:a/b#c",
        "rpcmeta:climate",
        "rpcmeta:climate,floor:1",
    ];
    for text in forms {
        let uri = parsed(text);
        assert_eq!(uri.to_string(), text, "display of {text:?}");
        assert_eq!(parsed(&uri.to_string()), uri, "round trip of {text:?}");
    }
}

#[test]
fn parts_are_read_as_written() {
    let uri = parsed("rpc://[2001:db8::7]:443/x.y");
    assert_eq!(uri.scheme(), Scheme::Rpc);
    assert_eq!(uri.host(), Some("2001:db8::7"));
    assert_eq!(uri.port(), Some(443));
    assert_eq!(uri.object(), Some("x.y"));
    assert!(uri.is_direct() && !uri.is_tls());
    assert_eq!(
        (uri.socket_path(), uri.registry_name(), uri.tags()),
        (None, None, None)
    );

    let uri = parsed("rpc+tls://h:1");
    assert!(uri.is_tls() && uri.is_direct());
    assert_eq!((uri.host(), uri.port(), uri.object()), (Some("h"), Some(1), None));

    let uri = parsed("rpc+unix:///run/a.sock#obj");
    assert_eq!(uri.scheme(), Scheme::RpcUnix);
    assert_eq!(uri.socket_path(), Some(Path::new("/run/a.sock")));
    assert_eq!(uri.object(), Some("obj"));
    assert_eq!((uri.host(), uri.port()), (None, None));

    let uri = parsed("rpcname:home.thermostat");
    assert_eq!(uri.registry_name(), Some("home.thermostat"));
    assert!(!uri.is_direct());
    assert_eq!(uri.object(), None);

    let uri = parsed("rpcmeta:a,b,a");
    assert_eq!(
        uri.tags().map(<[String]>::len),
        Some(3),
        "order and repeats are kept"
    );
    assert_eq!(uri.scheme(), Scheme::RpcMeta);
}

#[test]
fn schemes_are_case_insensitive_and_ipv6_is_canonical() {
    assert_eq!(parsed("RPC+TLS://h:1").to_string(), "rpc+tls://h:1");
    assert_eq!(parsed("rpc://[0:0::0001]:5").to_string(), "rpc://[::1]:5");
    assert_eq!(parsed("rpc://h:00080").port(), Some(80));
}

#[test]
fn every_malformed_form_has_its_error() {
    let long_name = format!("rpc://h:1/{}", "n".repeat(MAX_NAME_LEN + 1));
    let long_tag = format!("rpcmeta:{}", "t".repeat(MAX_NAME_LEN + 1));
    let huge = format!("rpcmeta:{}", "t,".repeat(MAX_URI_LEN));
    let cases: Vec<(&str, UriError)> = vec![
        ("", UriError::MissingScheme),
        ("localhost", UriError::MissingScheme),
        (":x", UriError::MissingScheme),
        ("http://h:1", UriError::UnknownScheme("http".into())),
        ("localhost:18811", UriError::UnknownScheme("localhost".into())),
        ("rpc:h:1", UriError::MissingSlashes(Scheme::Rpc)),
        ("rpc+unix:/run/a.sock", UriError::MissingSlashes(Scheme::RpcUnix)),
        ("rpcname://x", UriError::UnexpectedSlashes(Scheme::RpcName)),
        ("rpcmeta://x", UriError::UnexpectedSlashes(Scheme::RpcMeta)),
        (" rpc://h:1", UriError::UnknownScheme(" rpc".into())),
        ("rpc://h:1 ", UriError::Forbidden { ch: ' ', at: 9 }),
        ("rpc://h:1/a b", UriError::Forbidden { ch: ' ', at: 11 }),
        ("rpcname:a\tb", UriError::Forbidden { ch: '\t', at: 9 }),
        ("rpc+unix:///a\n", UriError::Forbidden { ch: '\n', at: 13 }),
        ("rpc://", UriError::MissingHost),
        ("rpc://:1", UriError::MissingHost),
        ("rpc://h", UriError::MissingPort),
        ("rpc://h:", UriError::MissingPort),
        ("rpc://h/x", UriError::MissingPort),
        ("rpc://[::1]", UriError::MissingPort),
        ("rpc://h:x", UriError::InvalidPort("x".into())),
        ("rpc://h:-1", UriError::InvalidPort("-1".into())),
        ("rpc://h:0", UriError::PortOutOfRange("0".into())),
        ("rpc://h:65536", UriError::PortOutOfRange("65536".into())),
        (
            "rpc://h:99999999999999999999999",
            UriError::PortOutOfRange("99999999999999999999999".into()),
        ),
        ("rpc://h:80?x=1", UriError::TrailingJunk("?x=1".into())),
        ("rpc://h:80x", UriError::TrailingJunk("x".into())),
        ("rpc://::1:18861", UriError::UnbracketedIpv6),
        ("rpc://[::1:18861", UriError::InvalidHost("[::1:18861".into())),
        ("rpc://[nope]:1", UriError::InvalidHost("nope".into())),
        ("rpc://[::1]x:1", UriError::InvalidHost("[::1]x:1".into())),
        ("rpc://a..b:1", UriError::InvalidHost("a..b".into())),
        ("rpc://-a:1", UriError::InvalidHost("-a".into())),
        ("rpc://h%41:1", UriError::InvalidHost("h%41".into())),
        ("rpc://h:1/", UriError::Name(NameError::Empty)),
        ("rpc+unix:///a.sock#", UriError::Name(NameError::Empty)),
        ("rpcname:", UriError::Name(NameError::Empty)),
        (
            &long_name,
            UriError::Name(NameError::TooLong {
                len: MAX_NAME_LEN + 1,
            }),
        ),
        (
            "rpc+unix://run/a.sock",
            UriError::RelativePath("run/a.sock".into()),
        ),
        ("rpc+unix://", UriError::RelativePath(String::new())),
        ("rpc+unix://#x", UriError::RelativePath(String::new())),
        ("rpcmeta:", UriError::EmptyTag),
        ("rpcmeta:a,,b", UriError::EmptyTag),
        ("rpcmeta:a,", UriError::EmptyTag),
        (
            &long_tag,
            UriError::InvalidTag(crate::error::shortened(&long_tag[8..], 64)),
        ),
        (&huge, UriError::TooLong(huge.len())),
    ];
    for (text, expected) in cases {
        let got = text.parse::<Uri>().expect_err(text);
        assert_eq!(got, expected, "error of {text:?}");
        assert!(got.to_string().starts_with("invalid URI: "), "{got}");
    }
}

#[test]
fn constructors_check_what_the_parser_checks() {
    let tcp = Uri::tcp("127.0.0.1", 18861).expect("tcp");
    assert_eq!(tcp.to_string(), "rpc://127.0.0.1:18861");
    assert_eq!(Uri::tcp("::1", 1).expect("v6").to_string(), "rpc://[::1]:1");
    assert_eq!(Uri::tls("[::1]", 2).expect("v6").to_string(), "rpc+tls://[::1]:2");
    assert_eq!(Uri::tcp("h", 0), Err(UriError::PortOutOfRange("0".into())));
    assert_eq!(Uri::tcp("a b", 1), Err(UriError::InvalidHost("a b".into())));
    assert_eq!(Uri::tcp("[h]", 1), Err(UriError::InvalidHost("[h]".into())));
    assert_eq!(Uri::tcp("", 1), Err(UriError::MissingHost));

    let named = tcp.clone().with_object("sensor.kitchen").expect("name");
    assert_eq!(named.to_string(), "rpc://127.0.0.1:18861/sensor.kitchen");
    assert_eq!(named.root(), tcp);
    assert_eq!(tcp.clone().with_object(""), Err(UriError::Name(NameError::Empty)));

    let unix = Uri::unix("/tmp/a b.sock")
        .expect("unix")
        .with_object("x")
        .expect("name");
    assert_eq!(unix.to_string(), "rpc+unix:///tmp/a b.sock#x");
    assert_eq!(parsed(&unix.to_string()), unix);
    assert_eq!(
        Uri::unix("rel.sock"),
        Err(UriError::RelativePath("rel.sock".into()))
    );
    assert!(matches!(Uri::unix("/tmp/a#b"), Err(UriError::Unrepresentable(_))));
    assert!(matches!(
        Uri::unix("/tmp/a\u{1}"),
        Err(UriError::Unrepresentable(_))
    ));

    let by_name = Uri::by_name("home.thermostat").expect("name");
    assert_eq!(by_name.to_string(), "rpcname:home.thermostat");
    assert_eq!(
        by_name.clone().with_object("x"),
        Err(UriError::NoObject(Scheme::RpcName))
    );
    assert_eq!(by_name.root(), by_name);
    assert_eq!(
        Uri::by_name("a b"),
        Err(UriError::Name(NameError::Forbidden { ch: ' ', at: 1 }))
    );
    assert_eq!(
        Uri::by_tags(["climate", "floor:1"]).expect("tags").to_string(),
        "rpcmeta:climate,floor:1"
    );
    assert_eq!(Uri::by_tags(Vec::<String>::new()), Err(UriError::EmptyTag));
    assert_eq!(Uri::by_tags(["a,b"]), Err(UriError::InvalidTag("a,b".into())));
    assert_eq!(Uri::by_tags(["a b"]), Err(UriError::InvalidTag("a b".into())));
}

#[test]
fn uris_cross_serde_as_text() {
    let uri = parsed("rpc://h:1/x");
    let value = crate::to_value(&uri).expect("to value");
    assert_eq!(value, crate::Value::Str("rpc://h:1/x".into()));
    assert_eq!(crate::from_value::<Uri>(value).expect("from value"), uri);
    let bad = crate::from_value::<Uri>(crate::Value::Str("rpc://h".into())).expect_err("bad");
    assert!(bad.to_string().contains("no port"), "{bad}");
    assert_eq!(format!("{uri:?}"), "Uri(\"rpc://h:1/x\")");
}
