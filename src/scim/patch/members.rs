//! Group membership as arithmetic on member ids (RFC 7644 §3.5.2 on
//! `members`), so large groups change without loading their members.
//!
//! [`split_member_ops`] folds the members operations of a request into a
//! [`MemberDelta`]; [`MemberDelta::resolve`] turns it, with the current
//! members, into the [`MemberChange`] to make; [`MemberChange::between`] is
//! what a PUT does. Invariant: pure functions of ids — no lookups, no I/O,
//! and an id is never both added and removed.

use serde_json::Value;

use super::{PatchOp, PatchOperation};
use crate::scim::filter::Filter;
use crate::scim::path::{get_ci, AttrPath};
use crate::scim::urn::GROUP_SCHEMA;

/// Group membership changes expressed without the current member list.
///
/// Apply as: when `replace` is set, the members become exactly that list;
/// otherwise, when `remove_all` is set, every member is removed first; then
/// `remove` is removed and `add` is added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberDelta {
    /// The complete new member list, when an operation replaced it.
    pub replace: Option<Vec<String>>,
    /// Member ids to add.
    pub add: Vec<String>,
    /// Member ids to remove.
    pub remove: Vec<String>,
    /// Whether all current members are removed first.
    pub remove_all: bool,
}

impl MemberDelta {
    /// Whether the delta changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.replace.is_none() && self.add.is_empty() && self.remove.is_empty() && !self.remove_all
    }

    /// Whether the delta only adds and removes named members: each one a
    /// single idempotent call that commutes with any other such call, so
    /// it needs neither the current member list nor an order among writers.
    #[must_use]
    pub fn is_commutative(&self) -> bool {
        self.replace.is_none() && !self.remove_all
    }

    fn add_ids(&mut self, ids: Vec<String>) {
        for id in ids {
            self.remove.retain(|r| r != &id);
            let list = self.replace.as_mut().unwrap_or(&mut self.add);
            if !list.contains(&id) {
                list.push(id);
            }
        }
    }

    fn remove_ids(&mut self, ids: Vec<String>) {
        for id in ids {
            self.add.retain(|a| a != &id);
            if let Some(list) = self.replace.as_mut() {
                list.retain(|a| a != &id);
            } else if !self.remove_all && !self.remove.contains(&id) {
                self.remove.push(id);
            }
        }
    }

    fn remove_every(&mut self) {
        *self = MemberDelta {
            remove_all: true,
            ..MemberDelta::default()
        };
    }

    fn replace_with(&mut self, ids: Vec<String>) {
        let mut unique: Vec<String> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(&id) {
                unique.push(id);
            }
        }
        *self = MemberDelta {
            replace: Some(unique),
            ..MemberDelta::default()
        };
    }
}

/// The membership calls to make: ids to add and ids to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChange {
    /// Member ids to add.
    pub add: Vec<String>,
    /// Member ids to remove.
    pub remove: Vec<String>,
}

impl MemberChange {
    /// What replacing the member list does (a PUT): add the wanted ids that
    /// are not members, remove the members that are not wanted, each in the
    /// order given and once.
    #[must_use]
    pub fn between(current: &[String], wanted: &[String]) -> Self {
        let mut add: Vec<String> = Vec::new();
        for w in wanted {
            if !current.contains(w) && !add.contains(w) {
                add.push(w.clone());
            }
        }
        let mut remove: Vec<String> = Vec::new();
        for c in current {
            if !wanted.contains(c) && !remove.contains(c) {
                remove.push(c.clone());
            }
        }
        Self { add, remove }
    }

    /// Whether there is nothing to do.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

impl MemberDelta {
    /// The change this delta makes to a group whose members are `current`.
    ///
    /// `after_other_ops` is the member list the operations left to
    /// [`apply_patch`](crate::scim::apply_patch) produced, when they touched
    /// `members`: its difference with `current` is added to the delta. Then
    /// a `replace` becomes its difference with `current`, `remove_all`
    /// removes every current member, and an id both added and removed is
    /// only added. Neither `current` nor the delta needs to be sorted; ids
    /// keep the order in which they were found.
    #[must_use]
    pub fn resolve(self, current: &[String], after_other_ops: Option<&[String]>) -> MemberChange {
        let MemberDelta {
            replace,
            mut add,
            mut remove,
            remove_all,
        } = self;
        if let Some(after) = after_other_ops {
            add.extend(after.iter().filter(|a| !current.contains(a)).cloned());
            remove.extend(current.iter().filter(|c| !after.contains(c)).cloned());
        }
        if let Some(replace) = replace {
            add.extend(replace.iter().filter(|a| !current.contains(a)).cloned());
            remove.extend(current.iter().filter(|c| !replace.contains(c)).cloned());
        }
        if remove_all {
            remove.extend(current.iter().cloned());
        }
        remove.retain(|r| !add.contains(r));
        MemberChange { add, remove }
    }
}

enum MemberAction {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    Replace(Vec<String>),
}

fn is_members_path(path: &AttrPath) -> bool {
    path.name.eq_ignore_ascii_case("members")
        && path
            .schema
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(GROUP_SCHEMA))
}

/// Member ids from `[{"value": id, …}, …]` (or one such object).
fn member_ids(value: &Value) -> Option<Vec<String>> {
    let items: Vec<&Value> = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|item| {
            let obj = item.as_object()?;
            let id = get_ci(obj, "value")?.as_str()?;
            (!id.is_empty()).then(|| id.to_owned())
        })
        .collect()
}

/// Member ids from `value eq "a" or value eq "b"`.
fn filter_ids(filter: &Filter) -> Option<Vec<String>> {
    filter
        .disjuncts()
        .into_iter()
        .map(|term| match term.as_eq_string() {
            Some((path, id))
                if path.schema.is_none()
                    && path.sub_attr.is_none()
                    && path.name.eq_ignore_ascii_case("value") =>
            {
                Some(id.to_owned())
            }
            _ => None,
        })
        .collect()
}

enum Split {
    Other(PatchOperation),
    Members(MemberAction, Option<PatchOperation>),
    Inexpressible,
}

fn classify(op: &PatchOperation) -> Split {
    match &op.path {
        Some(path) if is_members_path(&path.attr) => {
            let plain = path.filter.is_none() && path.attr.sub_attr.is_none();
            let action = match (op.op, plain, &path.filter, &op.value) {
                (PatchOp::Add, true, _, Some(v)) => member_ids(v).map(MemberAction::Add),
                (PatchOp::Replace, true, _, Some(v)) => member_ids(v).map(MemberAction::Replace),
                (PatchOp::Remove, true, _, None | Some(Value::Null)) => {
                    Some(MemberAction::RemoveAll)
                }
                (PatchOp::Remove, true, _, Some(v)) => member_ids(v).map(MemberAction::Remove),
                (PatchOp::Remove, false, Some(f), _) if path.attr.sub_attr.is_none() => {
                    filter_ids(f).map(MemberAction::Remove)
                }
                _ => None,
            };
            action.map_or(Split::Inexpressible, |a| Split::Members(a, None))
        }
        Some(_) => Split::Other(op.clone()),
        None => {
            let Some(Value::Object(obj)) = &op.value else {
                return Split::Other(op.clone());
            };
            let Some(key) = obj
                .keys()
                .find(|k| k.eq_ignore_ascii_case("members"))
                .cloned()
            else {
                return Split::Other(op.clone());
            };
            let mut rest = obj.clone();
            let members = rest.remove(&key).unwrap_or(Value::Null);
            let Some(ids) = member_ids(&members) else {
                return Split::Inexpressible;
            };
            let action = match op.op {
                PatchOp::Add => MemberAction::Add(ids),
                PatchOp::Replace => MemberAction::Replace(ids),
                PatchOp::Remove => return Split::Inexpressible,
            };
            let rest_op = (!rest.is_empty()).then_some(PatchOperation {
                op: op.op,
                path: None,
                value: Some(Value::Object(rest)),
            });
            Split::Members(action, rest_op)
        }
    }
}

/// Separates group-membership operations from the others.
///
/// Every members form Entra and RFC 7644 use becomes part of the
/// [`MemberDelta`]: add with a value array, replace, remove with a value
/// array, remove `members[value eq "id"]` (also `or`-ed), remove `members`
/// without a value (all), and a `members` key in a path-less add/replace.
/// The other operations are returned in order. When any members operation
/// cannot be expressed as a delta, the delta is empty and every operation is
/// returned, so the caller applies them all in order with [`apply_patch`].
#[must_use]
pub fn split_member_ops(ops: &[PatchOperation]) -> (MemberDelta, Vec<PatchOperation>) {
    let mut delta = MemberDelta::default();
    let mut rest = Vec::new();
    for op in ops {
        match classify(op) {
            Split::Inexpressible => return (MemberDelta::default(), ops.to_vec()),
            Split::Other(op) => rest.push(op),
            Split::Members(action, rest_op) => {
                match action {
                    MemberAction::Add(ids) => delta.add_ids(ids),
                    MemberAction::Remove(ids) => delta.remove_ids(ids),
                    MemberAction::RemoveAll => delta.remove_every(),
                    MemberAction::Replace(ids) => delta.replace_with(ids),
                }
                rest.extend(rest_op);
            }
        }
    }
    (delta, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::patch::parse_patch_request;
    use serde_json::json;

    fn ops(body: &Value) -> Vec<PatchOperation> {
        match parse_patch_request(body) {
            Ok(r) => r.operations,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn member_delta_folds_operations_in_order() {
        let body = json!({"Operations": [
            {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
            {"op": "remove", "path": "members[value eq \"b\" or value eq \"c\"]"},
            {"op": "replace", "path": "displayName", "value": "G"}
        ]});
        let (delta, rest) = split_member_ops(&ops(&body));
        assert_eq!(delta.add, vec!["a".to_owned()]);
        // b may have been a member before the request: it must end up removed.
        assert_eq!(delta.remove, vec!["b".to_owned(), "c".to_owned()]);
        assert_eq!(rest.len(), 1);
        let body = json!({"Operations": [
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"value": "x"}]}
        ]});
        let (delta, rest) = split_member_ops(&ops(&body));
        assert!(delta.remove_all && delta.add == vec!["x".to_owned()] && rest.is_empty());
        let body = json!({"Operations": [
            {"op": "replace", "value": {"displayName": "G", "members": [{"value": "m"}]}},
            {"op": "add", "path": "members", "value": [{"value": "n"}]}
        ]});
        let (delta, rest) = split_member_ops(&ops(&body));
        assert_eq!(delta.replace, Some(vec!["m".to_owned(), "n".to_owned()]));
        assert_eq!(rest[0].value, Some(json!({"displayName": "G"})));
        let body = json!({"Operations": [
            {"op": "add", "path": "members", "value": [{"value": "a"}]},
            {"op": "remove", "path": "members[display eq \"x\"]"}
        ]});
        let all = ops(&body);
        let (delta, rest) = split_member_ops(&all);
        assert!(delta.is_empty());
        assert_eq!(rest, all);
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn change(add: &[&str], remove: &[&str]) -> MemberChange {
        MemberChange {
            add: ids(add),
            remove: ids(remove),
        }
    }

    /// The change a request's members operations make to `current`.
    fn resolved(operations: &Value, current: &[&str]) -> MemberChange {
        let (delta, rest) = split_member_ops(&ops(&json!({ "Operations": operations })));
        assert!(rest.is_empty(), "only members operations in these rows");
        delta.resolve(&ids(current), None)
    }

    #[test]
    fn put_adds_the_wanted_non_members_and_removes_the_unwanted_members() {
        for (current, wanted, expected) in [
            (&["a", "b"][..], &["b", "c"][..], change(&["c"], &["a"])),
            (&["a"], &["a"], change(&[], &[])),
            (&[], &["x", "y"], change(&["x", "y"], &[])),
            (&["a", "b"], &[], change(&[], &["a", "b"])),
            (&["a"], &["c", "b", "c", "a"], change(&["c", "b"], &[])),
            (&["a", "a"], &["b"], change(&["b"], &["a"])),
        ] {
            assert_eq!(
                MemberChange::between(&ids(current), &ids(wanted)),
                expected,
                "{current:?} -> {wanted:?}"
            );
        }
    }

    #[test]
    fn resolve_turns_member_operations_into_calls_against_the_current_members() {
        let add = |list: &[&str]| -> Value {
            json!({"op": "add", "path": "members",
                   "value": list.iter().map(|id| json!({"value": id})).collect::<Vec<_>>()})
        };
        let remove =
            |id: &str| json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")});
        let replace = |list: &[&str]| -> Value {
            json!({"op": "replace", "path": "members",
                   "value": list.iter().map(|id| json!({"value": id})).collect::<Vec<_>>()})
        };
        let remove_all = json!({"op": "remove", "path": "members"});
        for (name, operations, current, expected) in [
            // Adding an existing member is still an add call (Keycloak's is idempotent).
            (
                "add existing member",
                json!([add(&["a"])]),
                &["a"][..],
                change(&["a"], &[]),
            ),
            (
                "remove non-member",
                json!([remove("z")]),
                &["a"],
                change(&[], &["z"]),
            ),
            (
                "replace with overlap",
                json!([replace(&["b", "c"])]),
                &["a", "b"],
                change(&["c"], &["a"]),
            ),
            (
                "remove all then add",
                json!([remove_all, add(&["b", "x"])]),
                &["a", "b"],
                change(&["b", "x"], &["a"]),
            ),
            (
                "add then remove same id",
                json!([add(&["a"]), remove("a")]),
                &[],
                change(&[], &["a"]),
            ),
            (
                "remove then add same id",
                json!([remove("a"), add(&["a"])]),
                &["a"],
                change(&["a"], &[]),
            ),
            (
                "duplicates are folded",
                json!([add(&["a", "a"]), add(&["a"]), remove("b"), remove("b")]),
                &["b"],
                change(&["a"], &["b"]),
            ),
        ] {
            assert_eq!(resolved(&operations, current), expected, "{name}");
        }
    }

    #[test]
    fn resolve_adds_the_difference_left_by_the_other_operations() {
        let delta = MemberDelta::default();
        assert_eq!(
            delta.resolve(&ids(&["a", "b"]), Some(&ids(&["b", "c"]))),
            change(&["c"], &["a"])
        );
        let delta = MemberDelta {
            add: ids(&["a"]),
            ..MemberDelta::default()
        };
        assert_eq!(
            delta.resolve(&ids(&["a"]), Some(&ids(&[]))),
            change(&["a"], &[]),
            "an id both added and removed is only added"
        );
        assert!(MemberDelta::default()
            .resolve(&ids(&["a"]), None)
            .is_empty());
    }
}
