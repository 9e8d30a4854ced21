//! The language and return-path parameters every page reads: a `next` path never leads off the
//! site however a browser reads it, and any `Accept-Language` picks one of our languages or none.

use proptest::prelude::*;

use super::*;
use crate::testing::proptest_cases;

const SITE: &str = "https://broker.example/signin/callback";

/// Paths, and near misses of them: schemes, doubled and back slashes, encoded slashes, tabs and
/// newlines (which browsers drop from URLs), other control characters, spaces.
fn next() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-z0-9]{1,6}",
        3 => Just("/".to_owned()),
        1 => Just("\\".to_owned()),
        1 => Just("//".to_owned()),
        1 => prop_oneof![Just("\t"), Just("\n"), Just("\r"), Just(" "), Just("\u{0}"), Just("\u{b}"), Just("\u{c}")].prop_map(str::to_owned),
        1 => prop_oneof![Just("%2F"), Just("%5C"), Just("%09"), Just("?"), Just("#"), Just(":"), Just("@"), Just(".")].prop_map(str::to_owned),
        1 => prop_oneof![Just("https:"), Just("javascript:"), Just("evil.example")].prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
    ];
    prop_oneof![
        proptest::collection::vec(piece, 0..10).prop_map(|p| p.concat()),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(512)))]

    /// The redirect goes to `safe_next(next)` on this site: resolved as a browser resolves a
    /// `Location` (the WHATWG URL parser), it stays on the same origin.
    #[test]
    fn a_next_path_never_leaves_the_site(next in next()) {
        let safe = safe_next(Some(&next));
        prop_assert!(safe.starts_with('/'));
        let base = url::Url::parse(SITE).unwrap();
        let resolved = base.join(&safe);
        prop_assert!(
            resolved.as_ref().is_ok_and(|r| r.origin() == base.origin()),
            "{:?} leads to {:?}", next, resolved
        );
        // Kept as sent when it is kept at all.
        prop_assert!(safe == "/" || safe == next);
    }

    #[test]
    fn a_plain_local_path_is_kept(path in "(/[a-z0-9._~-]{1,12}){1,4}(\\?[a-z]{1,5}=[a-z0-9%]{0,8})?") {
        prop_assert_eq!(safe_next(Some(&path)), path);
    }

    #[test]
    fn a_language_code_reads_back(upper in any::<bool>(), pad in "[ \t]{0,2}", fr in any::<bool>()) {
        let lang = if fr { Lang::Fr } else { Lang::En };
        let code = if upper { lang.code().to_ascii_uppercase() } else { lang.code().to_owned() };
        prop_assert_eq!(Lang::parse(&format!("{pad}{code}{pad}")), Some(lang));
    }

    /// A header a browser writes picks the language with the highest weight.
    #[test]
    fn accept_language_picks_the_highest_weight(
        en_q in proptest::option::of(0u32..=1000),
        fr_q in proptest::option::of(0u32..=1000),
        others in proptest::collection::vec(("[a-dg-z][a-z](-[A-Z]{2})?", 0u32..=1000), 0..3),
        region in any::<bool>(),
        fr_first in any::<bool>(),
    ) {
        let mut parts: Vec<String> = others.iter().map(|(tag, q)| format!("{tag};q={}", *q as f32 / 1000.0)).collect();
        let mut ours = Vec::new();
        if let Some(q) = en_q {
            ours.push(format!("en{};q={}", if region { "-CA" } else { "" }, q as f32 / 1000.0));
        }
        if let Some(q) = fr_q {
            ours.push(format!("fr{};q={}", if region { "-CA" } else { "" }, q as f32 / 1000.0));
        }
        if fr_first {
            ours.reverse();
        }
        parts.extend(ours);
        let header = parts.join(", ");
        let expected = match (en_q.filter(|q| *q > 0), fr_q.filter(|q| *q > 0)) {
            (None, None) => None,
            (Some(_), None) => Some(Lang::En),
            (None, Some(_)) => Some(Lang::Fr),
            (Some(e), Some(f)) if e > f => Some(Lang::En),
            (Some(e), Some(f)) if f > e => Some(Lang::Fr),
            // Equal weights: the one listed first.
            _ => Some(if fr_first && fr_q.is_some() { Lang::Fr } else { Lang::En }),
        };
        prop_assert_eq!(Lang::from_accept_language(&header), expected, "{}", header);
    }

    #[test]
    fn any_accept_language_is_one_of_ours_or_none(header in prop_oneof![
        any::<String>(),
        "([a-zA-Z*-]{0,6}(;q=[0-9.eEinfa+-]{0,6})?[,; ]{0,2}){0,5}",
    ]) {
        let _ = Lang::from_accept_language(&header);
    }
}
