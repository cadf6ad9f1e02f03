//! The crate's one JSON reader (JWT header and claims, key sets, discovery,
//! policies, saved state), checked against serde_json: for any text, both
//! accept with equal results or both refuse. The reader refuses more only
//! where it says so: nesting deeper than 64 (128 for documents), duplicate
//! member names in any object, a struct written as an array of its fields,
//! and (in members a typed caller skips) lone surrogates and numbers
//! beyond `f64`. Floats are
//! correctly rounded here; serde_json (without `float_roundtrip`) may be
//! off in the last places, so floats compare within a relative 1e-14.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use edge_auth::__fuzz::{json_from_str, parse_claims, parse_claims_typed};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value};

/// serde_json's float parsing without `float_roundtrip` can be a few
/// units in the last place off for long significands (e.g.
/// `2341496592742055604300000E99`: 2.3414965927420552e123 where the
/// correctly rounded value, ours, is ...558e123); 1e-14 relative is
/// about 45 units.
fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-14 * a.abs().max(b.abs())
}

/// Equal, with floats compared within a relative epsilon.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() && y.is_f64() => {
            close(x.as_f64().unwrap(), y.as_f64().unwrap())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((k, a), (l, b))| k == l && same(a, b))
        }
        _ => a == b,
    }
}

/// The differential check for `Value`: same acceptance, same value.
fn check_value(text: &str) -> Result<(), TestCaseError> {
    let ours = json_from_str::<Value>(text);
    let theirs = serde_json::from_str::<Value>(text);
    if near_max_only(text) {
        return Ok(());
    }
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => prop_assert!(same(a, b), "{text:?}: {a} != {b}"),
        (Err(_), Err(_)) => {}
        // serde_json keeps the last of repeated names.
        (Err(e), Ok(_)) if e.contains("duplicate member") => {}
        _ => prop_assert!(false, "{text:?}: ours {ours:?}, serde_json {theirs:?}"),
    }
    // The claims path: same as serde_json's map where the text is an
    // object without duplicate top-level members.
    let claims = parse_claims(text.as_bytes());
    match (&theirs, &claims) {
        (Ok(Value::Object(m)), Ok(c)) => {
            prop_assert!(
                same(&Value::Object(m.clone()), &Value::Object(c.clone())),
                "{text:?}"
            )
        }
        (Ok(Value::Object(_)), Err(e)) => prop_assert!(
            e.to_string().contains("duplicate claim") || e.to_string().contains("duplicate member"),
            "{text:?}: claims refused: {e}"
        ),
        (_, Ok(_)) => prop_assert!(false, "{text:?}: claims accepted, serde_json {theirs:?}"),
        _ => {}
    }
    Ok(())
}

/// serde_json (without `float_roundtrip`) does not round correctly at the
/// top of the range: it overflows on `1.7976931348623158e308` (which rounds
/// down to `f64::MAX`) and takes `1.79769313486231581e308` (which rounds up
/// to infinity) as `f64::MAX`. The reader rounds correctly both times.
fn near_max_only(text: &str) -> bool {
    let near = |v: &Value| {
        fn walk(v: &Value) -> bool {
            match v {
                Value::Number(n) => n
                    .as_f64()
                    .is_some_and(|f| f.abs() >= 1.797_693_134_862_31e308),
                Value::Array(items) => items.iter().any(walk),
                Value::Object(m) => m.values().any(walk),
                _ => false,
            }
        }
        walk(v)
    };
    match (
        json_from_str::<Value>(text),
        serde_json::from_str::<Value>(text),
    ) {
        (Ok(v), Err(e)) => e.to_string().contains("number out of range") && near(&v),
        (Err(e), Ok(v)) => e.contains("number out of range") && near(&v),
        _ => false,
    }
}

/// A tiny deterministic generator for rendering choices.
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

fn ws(out: &mut String, c: &mut Choices) {
    if c.one_in(3) {
        for _ in 0..c.next() % 3 {
            out.push([' ', '\t', '\n', '\r'][(c.next() % 4) as usize]);
        }
    }
}

fn render_str(out: &mut String, s: &str, c: &mut Choices) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' if c.one_in(2) => out.push_str("\\n"),
            '/' if c.one_in(2) => out.push_str("\\/"),
            ch if (ch as u32) < 0x20 || c.one_in(4) => {
                let mut units = [0u16; 2];
                for u in ch.encode_utf16(&mut units) {
                    if c.one_in(2) {
                        write!(out, "\\u{u:04x}").unwrap();
                    } else {
                        write!(out, "\\u{u:04X}").unwrap();
                    }
                }
            }
            ch => out.push(ch),
        }
    }
    out.push('"');
}

fn render(out: &mut String, v: &Value, c: &mut Choices) {
    ws(out, c);
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => write!(out, "{b}").unwrap(),
        Value::Number(n) => {
            if let (Some(f), true) = (n.as_f64(), n.is_f64() && c.one_in(2)) {
                // Another spelling of the same float.
                write!(out, "{f:e}").unwrap();
            } else {
                write!(out, "{n}").unwrap();
            }
        }
        Value::String(s) => render_str(out, s, c),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    ws(out, c);
                    out.push(',');
                }
                render(out, item, c);
                ws(out, c);
            }
            ws(out, c);
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(out, c);
                render_str(out, k, c);
                ws(out, c);
                out.push(':');
                render(out, item, c);
                ws(out, c);
            }
            ws(out, c);
            out.push('}');
        }
    }
    ws(out, c);
}

fn text_of(v: &Value, seed: u64) -> String {
    let mut out = String::new();
    render(&mut out, v, &mut Choices(seed | 1));
    out
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{0,6}",
        ".{0,8}",
        prop::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('/'),
                Just('\u{0}'),
                Just('\u{1f}'),
                Just('\u{7f}'),
                Just('é'),
                Just('\u{2028}'),
                Just('\u{ffff}'),
                Just('😀'),
                Just('\u{10ffff}'),
                any::<char>(),
            ],
            0..6
        )
        .prop_map(|v| v.into_iter().collect()),
    ]
}

fn arb_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0),
            Just(-1),
            Just(1 << 53)
        ]
        .prop_map(Value::from),
        prop_oneof![Just(u64::MAX), Just(1 << 63), Just((1 << 63) - 1)].prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just(f64::MAX),
            Just(f64::MIN_POSITIVE),
            Just(5e-324),
            Just(-0.0),
            Just(0.1),
            Just(1e300)
        ]
        .prop_map(Value::from),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number(),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(arb_string(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Bytes that matter to a JSON parser, for mutations.
const ALPHABET: &[&str] = &[
    "{", "}", "[", "]", ",", ":", "\"", "\\", " ", "\n", "0", "1", "9", "-", "+", ".", "e", "E",
    "t", "n", "u", "/", "\u{1}", "\u{7f}", "é", "\\u", "\\ud800", "\\udc00", "d8", "null", "1e400",
    "00", "//", "/*", "NaN", "\u{feff}",
];

fn mutate(text: &str, edits: &[(usize, u8, usize)]) -> String {
    let mut chars: Vec<String> = text.chars().map(String::from).collect();
    for &(at, op, what) in edits {
        let at = if chars.is_empty() {
            0
        } else {
            at % (chars.len() + 1)
        };
        let piece = ALPHABET[what % ALPHABET.len()].to_owned();
        match op % 3 {
            0 => chars.insert(at, piece),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            _ if at < chars.len() => chars[at] = piece,
            _ => chars.push(piece),
        }
    }
    chars.concat()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn values_agree_with_serde_json(v in arb_json(), seed in any::<u64>()) {
        let text = text_of(&v, seed);
        check_value(&text)?;
        // And the value is the one rendered.
        let ours = json_from_str::<Value>(&text).unwrap();
        prop_assert!(same(&ours, &v), "{text}");
    }

    #[test]
    fn mutated_texts_agree_with_serde_json(
        v in arb_json(),
        seed in any::<u64>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 1..4),
    ) {
        check_value(&mutate(&text_of(&v, seed), &edits))?;
    }

    #[test]
    fn number_spellings_agree_with_serde_json(
        n in r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,24})?([eE][+-]?[0-9]{1,3})?",
    ) {
        check_value(&n)?;
        check_value(&format!("[{n}]"))?;
        check_value(&format!(r#"{{"exp":{n}}}"#))?;
    }

    #[test]
    fn number_junk_agrees_with_serde_json(n in r"[-+0-9.eE]{1,12}") {
        check_value(&n)?;
        check_value(&format!("[{n}]"))?;
    }

    #[test]
    fn escapes_agree_with_serde_json(s in r#""(\\u[0-9a-fA-FdD]{0,4}|\\[\\"/bfnrtux0]|[a-z])*""#) {
        check_value(&s)?;
        check_value(&format!("{{{s}:1}}"))?;
    }
}

/// One named test per hand-picked case; `true` when both must accept.
macro_rules! cases {
    ($($name:ident: $text:expr;)*) => {
        mod cases {
            use super::*;
            $(
                #[test]
                fn $name() {
                    check_value($text).unwrap();
                }
            )*
        }
    };
}

cases! {
    empty: "";
    whitespace_only: " \n";
    trailing_comma_array: "[1,]";
    trailing_comma_object: r#"{"a":1,}"#;
    leading_zero: "01";
    negative_leading_zero: "-01";
    minus_zero: "-0";
    minus_zero_float: "-0.0";
    plus_sign: "+1";
    bare_dot: "1.";
    dot_first: ".5";
    exponent_without_digits: "1e";
    exponent_sign_only: "1e+";
    huge_exponent: "1e400";
    huge_negative_exponent: "1e-400";
    zero_huge_exponent: "0e99999999999999999999";
    max_f64: "1.7976931348623157e308";
    near_max_f64: "1.7976931348623158e308";
    over_midpoint_f64: "1.79769313486231581e308";
    over_max_f64: "1.7976931348623159e308";
    i64_min: "-9223372036854775808";
    i64_min_minus_one: "-9223372036854775809";
    u64_max: "18446744073709551615";
    u64_max_plus_one: "18446744073709551616";
    long_integer: "123456789012345678901234567890";
    nan: "NaN";
    infinity: "-Infinity";
    comment: "[1/*x*/]";
    line_comment: "[1]//";
    single_quotes: "['a']";
    unquoted_key: "{a:1}";
    raw_tab_in_string: "\"a\tb\"";
    raw_newline_in_string: "\"a\nb\"";
    raw_del_in_string: "\"a\u{7f}b\"";
    invalid_escape: r#""\x41""#;
    short_unicode_escape: r#""\u41""#;
    lone_high_surrogate: r#""\ud800""#;
    lone_high_surrogate_then_text: r#""\ud800abc""#;
    lone_low_surrogate: r#""\udc00""#;
    high_then_high: r#""\ud800\ud800""#;
    high_then_escape: r#""\ud800\n""#;
    surrogate_pair: r#""\ud83d\ude00""#;
    surrogate_pair_upper: r#""\uD83D\uDE00""#;
    escaped_nul: r#""\u0000""#;
    trailing_garbage: "{} x";
    two_values: "1 2";
    nested_ok: "[[[[[[[[[[]]]]]]]]]]";
    bom: "\u{feff}{}";
    true_prefix: "tru";
    null_suffix: "nullx";
    object_missing_colon: r#"{"a" 1}"#;
    object_missing_value: r#"{"a":}"#;
    object_number_key: "{1:2}";
    array_missing_comma: "[1 2]";
    array_double_comma: "[1,,2]";
    unclosed_array: "[1";
    unclosed_object: r#"{"a":1"#;
    unclosed_string: r#""abc"#;
    nested_duplicates_keep_last: r#"{"a":{"b":1,"b":2}}"#;
    top_duplicates: r#"{"a":1,"a":2}"#;
    top_escaped_duplicates: r#"{"exp":1,"\u0065xp":2}"#;
}

#[test]
fn near_max_f64_rounds_down_to_max() {
    // Below the midpoint between f64::MAX and the next power: rounds to
    // f64::MAX (Python, Go, JavaScript agree; serde_json's default parser
    // overflows, its correctly rounded `float_roundtrip` one, the tests'
    // reference, agrees).
    let v: f64 = json_from_str("1.7976931348623158e308").unwrap();
    assert_eq!(v, f64::MAX);
    assert!(json_from_str::<f64>("1.7976931348623159e308").is_err());
    // Above the midpoint: infinity, refused.
    assert!(json_from_str::<f64>("1.79769313486231581e308").is_err());
    for text in [
        "1.7976931348623158e308",
        "1.7976931348623159e308",
        "1.79769313486231581e308",
    ] {
        assert_eq!(
            json_from_str::<f64>(text).ok(),
            serde_json::from_str::<f64>(text).ok(),
            "{text}"
        );
    }
}

#[test]
fn depth_limit_is_64() {
    let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
    assert!(json_from_str::<Value>(&ok).is_ok());
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    let err = json_from_str::<Value>(&deep).unwrap_err();
    assert!(
        err.contains("nests deeper than 64 levels at byte 64"),
        "{err}"
    );
    // serde_json takes it (its limit is 128): ours is the stricter one.
    assert!(serde_json::from_str::<Value>(&deep).is_ok());
    // Skipped values count too.
    let skipped = format!(r#"{{"a":1,"x":{deep}}}"#);
    assert!(json_from_str::<serde::de::IgnoredAny>(&skipped).is_err());
}

#[test]
fn errors_name_the_problem_and_the_byte() {
    for (text, needle) in [
        (r#"{"a":1,}"#, "trailing comma at byte 7"),
        (r#"{"a" 1}"#, "expected `:`, found `1` at byte 5"),
        ("[01]", "leading zero at byte 2"),
        (
            r#"["\ud800"]"#,
            "lone UTF-16 surrogate in `\\u` escape at byte 2",
        ),
        ("\"a\u{1}\"", "control character in string at byte 2"),
        ("[1e999]", "number out of range at byte 1"),
        ("{} x", "trailing characters after the JSON value at byte 3"),
        (r#""\q""#, "invalid escape `q` at byte 2"),
    ] {
        let err = json_from_str::<Value>(text).unwrap_err();
        assert!(err.contains(needle), "{text}: {err}");
    }
    // A type error from the caller's visitor gets the offset of its value.
    let err = json_from_str::<Vec<u8>>("[1, 300]").unwrap_err();
    assert!(
        err.contains("invalid value: integer `300`") && err.contains("at byte 4"),
        "{err}"
    );
}

#[test]
fn strings_borrow_when_unescaped() {
    #[derive(Deserialize)]
    struct B<'a> {
        #[serde(borrow)]
        s: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        t: std::borrow::Cow<'a, str>,
    }
    let b: B<'_> = json_from_str(r#"{"s":"plain","t":"esc\"aped"}"#).unwrap();
    assert!(matches!(b.s, std::borrow::Cow::Borrowed("plain")));
    assert!(matches!(b.t, std::borrow::Cow::Owned(ref t) if t == "esc\"aped"));
}

// ----------------------------------------------------------- typed callers

#[derive(Debug, PartialEq, Deserialize)]
enum Kind {
    Unit,
    New(String),
    Pair(u8, bool),
    Rec { x: f64, y: Option<i32> },
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "t")]
enum Tagged {
    A { n: u32 },
    B,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum Loose {
    Num(i64),
    Text(String),
    List(Vec<Loose>),
}

#[derive(Debug, PartialEq, Deserialize)]
struct Inner {
    s: String,
    #[serde(default)]
    flag: bool,
    next: Option<Box<Inner>>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Newtype(u64);

#[derive(Debug, PartialEq, Deserialize)]
struct Typed {
    sub: String,
    exp: Option<i64>,
    #[serde(default)]
    roles: Vec<String>,
    kind: Option<Kind>,
    tagged: Option<Tagged>,
    loose: Option<Loose>,
    inner: Option<Inner>,
    id: Option<Newtype>,
    big: Option<u128>,
    small: Option<i8>,
    ch: Option<char>,
    unit: Option<()>,
    tuple: Option<(u8, String)>,
    by_number: Option<HashMap<u32, bool>>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Strict {
    sub: String,
    #[serde(default)]
    aud: Option<Value>,
}

fn member_value() -> impl Strategy<Value = (String, Value)> {
    let kind = prop_oneof![
        Just(Value::from("Unit")),
        Just(Value::from("Nope")),
        ".{0,4}".prop_map(|s| serde_json::json!({ "New": s })),
        (any::<u8>(), any::<bool>()).prop_map(|(a, b)| serde_json::json!({ "Pair": [a, b] })),
        (-1000i32..1000, prop::option::of(any::<i32>()))
            .prop_map(|(x, y)| serde_json::json!({ "Rec": { "x": f64::from(x) / 4.0, "y": y } })),
        Just(serde_json::json!({ "Unit": null })),
        Just(serde_json::json!({ "Pair": [1] })),
        Just(serde_json::json!({ "New": "a", "Unit": null })),
    ];
    let tagged = prop_oneof![
        any::<u32>().prop_map(|n| serde_json::json!({ "t": "A", "n": n })),
        Just(serde_json::json!({ "t": "B" })),
        Just(serde_json::json!({ "n": 1 })),
    ];
    let inner = ("[a-z]{0,3}", any::<bool>(), prop::option::of("[a-z]{0,3}")).prop_map(
        |(s, flag, next)| {
            serde_json::json!({ "s": s, "flag": flag, "next": next.map(|n| serde_json::json!({ "s": n })) })
        },
    );
    prop_oneof![
        ("[a-z]{0,5}").prop_map(|s| ("sub".to_owned(), Value::from(s))),
        arb_number().prop_map(|n| ("exp".to_owned(), n)),
        prop::collection::vec("[a-z]{0,3}", 0..3)
            .prop_map(|r| ("roles".to_owned(), Value::from(r))),
        kind.prop_map(|k| ("kind".to_owned(), k)),
        tagged.prop_map(|t| ("tagged".to_owned(), t)),
        arb_json().prop_map(|l| ("loose".to_owned(), l)),
        inner.prop_map(|i| ("inner".to_owned(), i)),
        arb_number().prop_map(|n| ("id".to_owned(), n)),
        arb_number().prop_map(|n| ("big".to_owned(), n)),
        arb_number().prop_map(|n| ("small".to_owned(), n)),
        "[a-zé]{0,2}".prop_map(|c| ("ch".to_owned(), Value::from(c))),
        Just(("unit".to_owned(), Value::Null)),
        (any::<u8>(), "[a-z]{0,2}")
            .prop_map(|(a, b)| ("tuple".to_owned(), serde_json::json!([a, b]))),
        prop::collection::btree_map("-?[0-9]{1,3}|x", any::<bool>(), 0..3).prop_map(|m| (
            "by_number".to_owned(),
            Value::Object(m.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
        )),
        (arb_string(), exact_json()),
    ]
}

/// JSON whose floats every parser reads exactly (for `PartialEq`).
fn exact_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-4000i32..4000).prop_map(|x| Value::from(f64::from(x) / 8.0)),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(arb_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Where the reader may refuse what serde_json takes for a typed caller:
/// lone surrogates and out-of-range numbers in members the type skips,
/// repeated member names, and a struct written as an array.
fn stricter_on_skipped(err: &str) -> bool {
    err.contains("lone UTF-16 surrogate")
        || err.contains("number out of range")
        || err.contains("duplicate member")
        || err.contains("invalid type: sequence, expected struct")
}

/// `claims`: also through the claims path, which takes only an object
/// (never `null` for an `Option`, nor an enum) and refuses duplicate
/// top-level members.
fn typed_check<T>(text: &str, claims: bool) -> Result<(), TestCaseError>
where
    T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if near_max_only(text) {
        return Ok(());
    }
    let ours = json_from_str::<T>(text);
    let theirs = serde_json::from_str::<T>(text);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{}", text),
        (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) if stricter_on_skipped(e) => {}
        _ => prop_assert!(false, "{text}: ours {ours:?}, serde_json {theirs:?}"),
    }
    if !claims {
        return Ok(());
    }
    let object = matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(_)));
    let claims = parse_claims_typed::<T>(text.as_bytes());
    match (&theirs, &claims) {
        (Ok(b), Ok(c)) => prop_assert_eq!(b, c, "{}", text),
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => {
            let e = e.to_string();
            prop_assert!(
                !object || e.contains("duplicate claim") || stricter_on_skipped(&e),
                "{text}: claims refused: {e}"
            )
        }
        (Err(e), Ok(_)) => prop_assert!(false, "{text}: claims accepted, serde_json {e}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn typed_structs_agree_with_serde_json(
        members in prop::collection::vec(member_value(), 0..8),
        seed in any::<u64>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 0..2),
    ) {
        let mut text = String::from("{");
        let mut c = Choices(seed | 1);
        for (i, (k, v)) in members.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            render_str(&mut text, k, &mut c);
            text.push(':');
            render(&mut text, v, &mut c);
        }
        text.push('}');
        let text = mutate(&text, &edits);
        typed_check::<Typed>(&text, true)?;
        typed_check::<Strict>(&text, true)?;
        typed_check::<BTreeMap<String, Loose>>(&text, true)?;
        typed_check::<Option<Inner>>(&text, true)?;
        typed_check::<Kind>(&text, false)?;
    }
}

#[test]
fn top_level_skips_are_as_strict_as_reads() {
    // serde_json skips these in members a struct ignores; the reader
    // refuses them wherever they are, so a claims set's well-formedness
    // does not depend on the caller's type.
    for text in [r#"{"sub":"a","x":"\udc00"}"#, r#"{"sub":"a","x":1e400}"#] {
        assert!(serde_json::from_str::<Strict>(text).is_err()); // unknown field
        #[derive(Deserialize)]
        struct Lax {
            #[allow(dead_code)]
            sub: String,
        }
        assert!(serde_json::from_str::<Lax>(text).is_ok(), "{text}");
        assert!(json_from_str::<Lax>(text).is_err(), "{text}");
    }
}

/// An enum written as an object names its variant with a member name: a
/// string, as serde_json requires ("key must be a string"). A number, a
/// literal or nothing there is refused, never taken as a variant index.
/// (Found by the `json_reader` fuzz target: `{"kind":{1:"…"}}` read as
/// `Kind::New`.)
#[test]
fn enum_variant_names_are_strings() {
    let ok: Typed = json_from_str(r#"{"sub":"a","kind":{"New":"x"}}"#).unwrap();
    assert_eq!(ok.kind, Some(Kind::New("x".into())));
    for text in [
        r#"{"sub":"a","kind":{1:"x"}}"#,
        r#"{"sub":"a","kind":{ 0 :null}}"#,
        r#"{"sub":"a","kind":{true:"x"}}"#,
        r#"{"sub":"a","kind":{null:"x"}}"#,
        r#"{"sub":"a","kind":{}}"#,
    ] {
        assert!(serde_json::from_str::<Typed>(text).is_err(), "{text}");
        match json_from_str::<Typed>(text) {
            Err(e) => assert!(e.contains("a variant name (a string)"), "{text}: {e}"),
            Ok(v) => panic!("{text}: accepted as {v:?}"),
        }
    }
}

#[test]
fn duplicate_members_are_refused_at_any_depth() {
    for (text, name) in [
        (r#"{"a":1,"a":2}"#, "a"),
        (r#"{"a":{"b":1,"c":2,"b":3}}"#, "b"),
        (r#"[{"k":1},{"k":2,"k":3}]"#, "k"),
        (r#"{"\u0061":1,"a":2}"#, "a"),
    ] {
        assert!(serde_json::from_str::<Value>(text).is_ok(), "{text}");
        let err = json_from_str::<Value>(text).unwrap_err();
        assert!(
            err.contains(&format!("duplicate member `{name}`")),
            "{text}: {err}"
        );
    }
    // The name is escaped in the message (no forged log lines).
    let err = json_from_str::<Value>(r#"{"a\r\nb":1,"a\r\nb":2}"#).unwrap_err();
    assert!(err.contains(r"duplicate member `a\r\nb`"), "{err}");
    // Also in members a typed caller skips.
    #[derive(Debug, Deserialize)]
    struct Sub {
        #[allow(dead_code)]
        sub: String,
    }
    let text = r#"{"sub":"a","x":1,"x":2}"#;
    assert!(serde_json::from_str::<Sub>(text).is_ok());
    assert!(
        json_from_str::<Sub>(text)
            .unwrap_err()
            .contains("duplicate member `x`")
    );
    // Seventeen names and more (a tree past the short list).
    let mut many: Vec<String> = (0..40).map(|i| format!(r#""m{i}":{i}"#)).collect();
    assert!(json_from_str::<Value>(&format!("{{{}}}", many.join(","))).is_ok());
    many.push(r#""m7":0"#.to_owned());
    let err = json_from_str::<Value>(&format!("{{{}}}", many.join(","))).unwrap_err();
    assert!(err.contains("duplicate member `m7`"), "{err}");
}

#[test]
fn struct_from_an_array_is_refused() {
    #[derive(Debug, PartialEq, Deserialize)]
    struct P {
        x: u8,
        y: bool,
    }
    // serde_json reads a struct from an array of its fields in order.
    assert_eq!(
        serde_json::from_str::<P>("[1,true]").unwrap(),
        P { x: 1, y: true }
    );
    let err = json_from_str::<P>("[1,true]").unwrap_err();
    assert!(
        err.contains("invalid type: sequence, expected struct P at byte 0"),
        "{err}"
    );
    assert_eq!(
        json_from_str::<P>(r#"{"x":1,"y":true}"#).unwrap(),
        P { x: 1, y: true }
    );
}

#[test]
fn type_errors_name_a_float_without_its_value() {
    let err = json_from_str::<u8>("1.5").unwrap_err();
    assert!(
        err.contains("invalid type: floating point number, expected u8"),
        "{err}"
    );
    assert!(!err.contains("1.5"), "{err}");
    let err = json_from_str::<String>("[]").unwrap_err();
    assert!(
        err.contains("invalid type: sequence, expected a string"),
        "{err}"
    );
    let err = json_from_str::<Vec<u8>>(r#""ab""#).unwrap_err();
    assert!(
        err.contains("invalid type: string `ab`, expected a sequence"),
        "{err}"
    );
}

#[test]
fn documents_nest_to_128_and_errors_give_line_and_column() {
    use edge_auth::__fuzz::json_from_document;
    let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
    assert!(json_from_document::<Value>(ok.as_bytes()).is_ok());
    let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
    let err = json_from_document::<Value>(deep.as_bytes()).unwrap_err();
    assert!(
        err.to_string().contains("nests deeper than 128 levels"),
        "{err}"
    );
    let text = "{\n  \"rules\": [\n    {\"id\": \"a\",}\n  ]\n}";
    let err = json_from_document::<Value>(text.as_bytes()).unwrap_err();
    assert_eq!(err.to_string(), "trailing comma at line 3 column 16");
    assert_eq!(
        (err.line(), err.column(), err.offset()),
        (Some(3), Some(16), Some(30))
    );
    assert_eq!(err.message(), "trailing comma");
    let err = json_from_document::<Value>(b"{\"a\":\n \"\xff\"}").unwrap_err();
    assert_eq!(err.to_string(), "invalid UTF-8 at line 2 column 3");
}
