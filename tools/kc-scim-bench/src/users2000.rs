//! `users2000`: /Users pages and filtered lookups on a realm seeded by
//! `seed`, timed at concurrency 1, each reply checked for correctness.
//!
//! Invariant: a case passes only when every one of its replies passes its
//! check (a fast wrong answer is a failure), and the whole run fails when a
//! case does.

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;

use crate::args::Users2000Args;
use crate::phases::percentile;
use crate::targets::{enc, PAGE};
use crate::tokens::client;

/// Checks one reply: status and body.
type Check = Box<dyn Fn(u16, &Value) -> Result<(), String>>;

/// One timed request of `users2000` and its check.
struct Case {
    name: String,
    query: String,
    check: Check,
}

/// A page from `start` of a realm of `seeded` users: `totalResults` is
/// `seeded` and the page is full unless it runs past the end.
fn page(start: usize, seeded: usize) -> Case {
    let expect = seeded.saturating_sub(start.saturating_sub(1)).min(PAGE);
    Case {
        name: format!("page startIndex={start} count={PAGE}"),
        query: format!("/Users?startIndex={start}&count={PAGE}"),
        check: Box::new(move |status, v| {
            let total = v["totalResults"].as_u64().unwrap_or(0);
            let n = v["Resources"].as_array().map_or(0, Vec::len);
            if status == 200 && usize::try_from(total) == Ok(seeded) && n == expect {
                Ok(())
            } else {
                Err(format!(
                    "{status}: totalResults {total}, {n} resources (want {seeded}, {expect})"
                ))
            }
        }),
    }
}

/// A filter that must find exactly the seeded user `user`.
fn one(name: &str, filter: &str, user: &str) -> Case {
    let want = format!("{user}@contoso.com");
    Case {
        name: format!("{name}: {filter}"),
        query: format!("/Users?filter={}", enc(filter)),
        check: Box::new(move |status, v| {
            let total = v["totalResults"].as_u64().unwrap_or(0);
            let found = v["Resources"][0]["userName"].as_str().unwrap_or("");
            if status == 200 && total == 1 && found.eq_ignore_ascii_case(&want) {
                Ok(())
            } else {
                Err(format!(
                    "{status}: totalResults {total}, userName {found:?}"
                ))
            }
        }),
    }
}

/// A filter kc-scim cannot push down: either the 10 matches of the scan, or
/// 400 `tooMany` when the scan bound is below the realm size.
fn not_pushable(sw: &str) -> Case {
    let filter = format!("name.familyName sw \"{sw}\"");
    Case {
        name: format!("not pushable: {filter}"),
        query: format!("/Users?filter={}", enc(&filter)),
        check: Box::new(move |status, v| {
            let total = v["totalResults"].as_u64().unwrap_or(0);
            if (status == 200 && total == 10) || (status == 400 && v["scimType"] == "tooMany") {
                Ok(())
            } else {
                Err(format!(
                    "{status}: {}",
                    v.to_string().chars().take(200).collect::<String>()
                ))
            }
        }),
    }
}

/// The cases for a realm of `seeded` (≥ 1) users seeded with `prefix`.
fn cases(seeded: usize, prefix: &str) -> Vec<Case> {
    let probe = 1234.min(seeded.saturating_sub(1));
    let user = format!("{prefix}{probe:05}");
    vec![
        page(1, seeded),
        page(1000, seeded),
        page(1990, seeded),
        one(
            "userName",
            &format!("userName eq \"{user}@Contoso.com\""),
            &user,
        ),
        one(
            "externalId",
            &format!("externalId eq \"ext-{user}\""),
            &user,
        ),
        one(
            "email",
            &format!("emails[type eq \"work\"].value eq \"{user}@mail.contoso.com\""),
            &user,
        ),
        not_pushable(&format!("Fam{:04}", probe / 10)),
    ]
}

/// Runs every case `--reps` times; `Ok(false)` when a check failed.
pub(crate) async fn users2000(args: &Users2000Args) -> anyhow::Result<bool> {
    let base = format!("{}/realms/{}/scim/v2", args.scim_url, args.realm);
    let (seeded, reps) = (args.seeded, args.reps);
    let http = client()?;
    let mut ok = true;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Realm of {seeded} users, {reps} requests per case, concurrency 1.\n\n\
         | case | status | check | p50 ms | p99 ms |\n|---|---:|---|---:|---:|"
    );
    for case in cases(seeded, &args.prefix) {
        let mut times = Vec::new();
        let mut verdict = Ok(());
        let mut last_status = 0;
        for _ in 0..reps {
            let t0 = Instant::now();
            let r = http
                .get(format!("{base}{}", case.query))
                .bearer_auth(&args.token)
                .send()
                .await
                .with_context(|| format!("{}: request not sent", case.name))?;
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            times.push(t0.elapsed());
            last_status = status;
            if let Err(e) = (case.check)(status, &body) {
                verdict = Err(e);
            }
        }
        times.sort();
        ok &= verdict.is_ok();
        let _ = writeln!(
            s,
            "| {} | {last_status} | {} | {:.1} | {:.1} |",
            case.name.replace('|', "\\|"),
            verdict
                .err()
                .map_or("ok".to_owned(), |e| format!("FAIL {e}")),
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
    println!("{s}");
    if let Some(out) = &args.out {
        std::fs::write(out, &s)
            .with_context(|| format!("cannot write the report to {}", out.display()))?;
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn list(total: u64, n: usize) -> Value {
        json!({"totalResults": total, "Resources": vec![json!({}); n]})
    }

    #[test]
    fn last_page_of_2000_expects_the_remaining_eleven() {
        let c = page(1990, 2000);
        assert_eq!((c.check)(200, &list(2000, 11)), Ok(()));
        assert!((c.check)(200, &list(2000, 100)).is_err());
        assert!((c.check)(200, &list(1999, 11)).is_err());
        assert!((c.check)(500, &list(2000, 11)).is_err());
    }

    #[test]
    fn lookup_must_find_exactly_the_probe_user_in_any_case() {
        let c = one(
            "userName",
            "userName eq \"seed01234@Contoso.com\"",
            "seed01234",
        );
        let hit = json!({"totalResults": 1, "Resources": [{"userName": "seed01234@Contoso.com"}]});
        assert_eq!((c.check)(200, &hit), Ok(()));
        let other =
            json!({"totalResults": 1, "Resources": [{"userName": "seed01235@contoso.com"}]});
        assert!((c.check)(200, &other).is_err());
        let two = json!({"totalResults": 2, "Resources": [{"userName": "seed01234@contoso.com"}]});
        assert!((c.check)(200, &two).is_err());
    }

    #[test]
    fn not_pushable_accepts_ten_matches_or_too_many() {
        let c = not_pushable("Fam0123");
        assert_eq!((c.check)(200, &list(10, 10)), Ok(()));
        assert_eq!(
            (c.check)(400, &json!({"status": "400", "scimType": "tooMany"})),
            Ok(())
        );
        assert!((c.check)(200, &list(9, 9)).is_err());
        assert!((c.check)(400, &json!({"scimType": "invalidFilter"})).is_err());
    }

    #[test]
    fn probe_user_stays_inside_a_small_realm() {
        let names: Vec<String> = cases(5, "seed").into_iter().map(|c| c.name).collect();
        assert!(
            names.iter().any(|n| n.contains("seed00004@Contoso.com")),
            "{names:?}"
        );
        assert!(names.iter().any(|n| n.contains("Fam0000")), "{names:?}");
    }
}
