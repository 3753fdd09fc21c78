//! Property tests: filters round-trip through `Display`, and no parser or
//! engine panics on arbitrary input.
//!
//! The case count is proptest's own: `PROPTEST_CASES=1000000` runs the long
//! campaign, the default a short one. Select them with
//! `cargo test --lib scim::proptests`.

use proptest::prelude::*;
use serde_json::{json, Map, Number, Value};

use super::filter::{
    parse_attr_path, parse_filter, AttrPath, CompValue, CompareOp, Filter, ValuePath,
};
use super::patch::{
    apply_patch, parse_patch_request, split_member_ops, PatchOp, PatchOperation, PatchPath,
};
use super::projection::{parse_attribute_list, project};
use super::resource::normalize_input;
use super::schema::{ResourceSchema, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

fn attr_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
        1 => Just("$ref".to_owned()),
        1 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null", "urn"]).prop_map(str::to_owned),
    ]
}

fn schema_urn() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => Just(None),
        1 => Just(Some(USER_SCHEMA.to_owned())),
        1 => Just(Some(ENTERPRISE_USER_SCHEMA.to_owned())),
        1 => "urn:[a-zA-Z0-9][a-zA-Z0-9.-]{0,6}(:[a-zA-Z0-9][a-zA-Z0-9.-]{0,6}){0,3}".prop_map(Some),
    ]
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    (schema_urn(), attr_name(), prop::option::of(attr_name())).prop_map(
        |(schema, name, sub_attr)| AttrPath {
            schema,
            name,
            sub_attr,
        },
    )
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        any::<String>().prop_map(CompValue::String),
        "[a-zA-Z0-9 @.\"\\\\-]{0,12}".prop_map(CompValue::String),
        any::<i64>().prop_map(|n| CompValue::Number(Number::from(n))),
        any::<u64>().prop_map(|n| CompValue::Number(Number::from(n))),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(CompValue::Number),
        any::<bool>().prop_map(CompValue::Bool),
        Just(CompValue::Null),
    ]
}

fn compare_op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(CompareOp::ALL.to_vec())
}

fn leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        3 => (attr_path(), compare_op(), comp_value())
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        1 => attr_path().prop_map(|path| Filter::Present { path }),
    ]
}

fn combine(inner: impl Strategy<Value = Filter> + Clone) -> impl Strategy<Value = Filter> {
    prop_oneof![
        (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::and(a, b)),
        (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::or(a, b)),
        inner.prop_map(Filter::negate),
    ]
}

fn value_filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(3, 12, 2, combine)
}

fn filter() -> impl Strategy<Value = Filter> {
    let value_path = (
        (schema_urn(), attr_name()).prop_map(|(schema, name)| AttrPath {
            schema,
            name,
            sub_attr: None,
        }),
        value_filter(),
    )
        .prop_map(|(attr, f)| {
            Filter::ValuePath(ValuePath {
                attr,
                filter: Box::new(f),
            })
        });
    prop_oneof![3 => leaf(), 1 => value_path].prop_recursive(5, 48, 2, combine)
}

/// Strings that look like filters and paths, so the fuzzing reaches deep.
fn filterish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 ()\\[\\]\".:$_\\\\-]{0,64}",
        prop::collection::vec(
            prop::sample::select(vec![
                "userName",
                "emails",
                "[",
                "]",
                "(",
                ")",
                " ",
                "eq",
                "pr",
                "and",
                "or",
                "not",
                "\"work\"",
                "type",
                ".",
                "value",
                "urn:ietf:params:scim:schemas:core:2.0:User:",
                "1e5",
                "-0",
                "true",
                "null",
                "\"",
                "\\",
                "é",
                ":",
                "\u{0}",
            ]),
            0..24,
        )
        .prop_map(|parts| parts.concat()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "schemas",
        "id",
        "meta",
        "userName",
        "name",
        "givenName",
        "familyName",
        "name.givenName",
        "emails",
        "value",
        "type",
        "primary",
        "active",
        "members",
        "displayName",
        "manager",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "groups",
        "op",
        "Operations",
        "path",
        "addresses",
        "$ref",
        "tag",
        "x",
    ])
    .prop_map(str::to_owned);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(Value::Number),
        prop::sample::select(vec![
            "",
            "True",
            "False",
            "work",
            "home",
            "add",
            "Replace",
            "remove",
            "members",
            "emails[type eq \"work\"].value",
            "members[value eq \"a\"]",
            "name.givenName",
            "2011-05-13T04:42:34Z",
            "a",
            "urn:ietf:params:scim:api:messages:2.0:PatchOp",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn patch_path_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "userName",
            "active",
            "name",
            "name.givenName",
            "emails",
            "emails.value",
            "emails[type eq \"work\"]",
            "emails[type eq \"work\"].value",
            "emails[value co \"x\"]",
            "addresses[type eq \"work\"].streetAddress",
            "members",
            "members[value eq \"a\"]",
            "members[value eq \"a\" or value eq \"b\"].display",
            "id",
            "meta",
            "meta.created",
            "groups",
            "externalId",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag",
            "displayName",
            "roles[primary eq true].value",
            "x",
        ])
        .prop_map(str::to_owned),
        filterish(),
    ]
}

fn operation() -> impl Strategy<Value = PatchOperation> {
    (
        prop::sample::select(vec![PatchOp::Add, PatchOp::Replace, PatchOp::Remove]),
        prop::option::of(patch_path_text()),
        prop::option::of(json_value()),
    )
        .prop_map(|(op, path, value)| PatchOperation {
            op,
            path: path.and_then(|p| PatchPath::parse(&p).ok()),
            value,
        })
}

fn sample_user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "id": "u1",
        "userName": "bjensen",
        "active": true,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "b@work.example", "type": "work", "primary": true},
                   {"value": "b@home.example", "type": "home"}],
        "addresses": [{"type": "work", "streetAddress": "1 Rd", "locality": "X"}],
        "meta": {"resourceType": "User", "created": "2011-05-13T04:42:34Z"},
        ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m1"}, "department": "R&D"}
    })
}

fn sample_group() -> Value {
    json!({
        "schemas": [GROUP_SCHEMA],
        "id": "g1",
        "displayName": "Group",
        "members": [{"value": "a"}, {"value": "b", "type": "User"}]
    })
}

proptest! {
    #[test]
    fn prop_filter_display_round_trips(f in filter()) {
        let text = f.to_string();
        let parsed = parse_filter(&text);
        prop_assert_eq!(parsed, Ok(f), "display: {}", text);
    }

    #[test]
    fn prop_parse_filter_never_panics(s in filterish()) {
        if let Ok(f) = parse_filter(&s) {
            // Whatever parses re-parses from its display to the same AST.
            prop_assert_eq!(parse_filter(&f.to_string()), Ok(f));
        }
    }

    #[test]
    fn prop_mutated_filters_never_panic(f in filter(), cut in any::<prop::sample::Index>(), junk in filterish()) {
        let text = f.to_string();
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let (head, tail) = text.split_at(at);
        let _ = parse_filter(&format!("{head}{junk}{tail}"));
        let _ = parse_filter(head);
    }

    #[test]
    fn prop_paths_never_panic(s in filterish()) {
        let _ = parse_attr_path(&s);
        let _ = PatchPath::parse(&s);
        let _ = parse_attribute_list(&s);
    }

    #[test]
    fn prop_patch_paths_round_trip(s in patch_path_text()) {
        if let Ok(p) = PatchPath::parse(&s) {
            prop_assert_eq!(PatchPath::parse(&p.to_string()), Ok(p));
        }
    }

    #[test]
    fn prop_parse_patch_request_never_panics(body in json_value(), ops in prop::collection::vec(json_value(), 0..4)) {
        let _ = parse_patch_request(&body);
        let wrapped = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        if let Ok(req) = parse_patch_request(&wrapped) {
            let _ = apply_patch(&sample_user(), &req.operations, &ResourceSchema::user());
        }
    }

    #[test]
    fn prop_apply_patch_never_panics_and_keeps_id(ops in prop::collection::vec(operation(), 1..5)) {
        for (resource, schema) in [
            (sample_user(), ResourceSchema::user()),
            (sample_group(), ResourceSchema::group()),
        ] {
            if let Ok(out) = apply_patch(&resource, &ops, &schema) {
                prop_assert_eq!(out.resource.get("id"), resource.get("id"));
                prop_assert_eq!(out.resource.get("meta"), resource.get("meta"));
                prop_assert_eq!(out.changed, !out.changed_attributes.is_empty());
            }
        }
        let _ = split_member_ops(&ops);
    }

    #[test]
    fn prop_apply_patch_never_panics_on_any_resource(resource in json_value(), ops in prop::collection::vec(operation(), 1..3)) {
        let _ = apply_patch(&resource, &ops, &ResourceSchema::user());
        let _ = apply_patch(&resource, &ops, &ResourceSchema::group());
    }

    #[test]
    fn prop_normalize_input_never_panics_and_drops_read_only(body in json_value()) {
        for schema in [ResourceSchema::user(), ResourceSchema::group()] {
            if let Ok(out) = normalize_input(&body, &schema) {
                prop_assert!(out.get("id").is_none() && out.get("meta").is_none());
                prop_assert!(out.get("schemas").is_some());
            }
        }
    }

    #[test]
    fn prop_evaluation_and_projection_never_panic(f in filter(), resource in json_value(), attrs in filterish()) {
        let schema = ResourceSchema::user();
        let _ = f.matches(&resource, &schema);
        let _ = f.matches(&sample_user(), &schema);
        let _ = f.conjuncts();
        let paths = parse_attribute_list(&attrs).unwrap_or_default();
        let _ = project(&resource, &paths, &[], &schema);
        let _ = project(&sample_user(), &[], &paths, &schema);
    }
}
