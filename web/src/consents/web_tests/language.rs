//! Every consent page in the language asked for: no text of the other language (messages and
//! catalogue labels), no message key shown as itself, and no text that bypasses `t()` (rendered
//! with every French message replaced by a marker, whatever is left is hard-coded).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::test;

use super::{Harness, get, post};
use services::consents::ledger;

/// Every message value of one language (areas `consents` and `common`) and the catalogue's labels
/// in that language, in pieces (around `{placeholders}`) long enough to be told apart.
fn texts_of(h: &Harness, lang: &str) -> Vec<String> {
    let other = if lang == "en" { "fr" } else { "en" };
    let mut mine = BTreeMap::new();
    let mut theirs = BTreeMap::new();
    for (path, text) in crate::embedded::MESSAGES {
        let Some((l, file)) = path.split_once('/') else {
            continue;
        };
        if !["consents.toml", "common.toml"].contains(&file) {
            continue;
        }
        let table: toml::Table = toml::from_str(text).unwrap();
        let target = if l == lang {
            &mut mine
        } else if l == other {
            &mut theirs
        } else {
            continue;
        };
        flatten(file, &toml::Value::Table(table), target);
    }
    let mut out: Vec<String> = Vec::new();
    for (key, text) in &mine {
        if theirs.get(key) == Some(text) {
            continue;
        }
        out.extend(pieces(text));
    }
    let c = h.state.policy.catalogue();
    let pairs: Vec<(String, String)> = c
        .attributes()
        .iter()
        .map(|a| (a.label_en.clone(), a.label_fr.clone()))
        .chain(
            c.departments()
                .iter()
                .map(|d| (d.name_en.clone(), d.name_fr.clone())),
        )
        .chain(c.purposes().iter().flat_map(|p| {
            [
                (p.text_en.clone(), p.text_fr.clone()),
                (p.legal_basis.clone(), p.legal_basis_fr.clone()),
            ]
        }))
        .collect();
    for (en, fr) in pairs {
        if en != fr {
            out.push(if lang == "en" { en } else { fr });
        }
    }
    out
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        _ => {}
    }
}

fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let (piece, tail) = match rest.find('{') {
            Some(i) => (&rest[..i], rest[i..].find('}').map(|j| &rest[i + j + 1..])),
            None => (rest, None),
        };
        let trimmed = piece.trim_matches(|c: char| c.is_whitespace() || ",.:;".contains(c));
        if trimmed.chars().filter(|c| c.is_alphabetic()).count() >= 4 {
            out.push(trimmed.to_owned());
        }
        match tail {
            Some(t) => rest = t,
            None => break,
        }
    }
    out
}

/// Whether `text` occurs in `html` as whole words (so `Consent` is not found in `Consentements`).
fn contains_words(html: &str, text: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
    html.match_indices(text).any(|(i, _)| {
        !word(html[..i].chars().next_back()) && !word(html[i + text.len()..].chars().next())
    })
}

/// A message key rendered as itself (what `t` shows for a missing key): `consents.x…`.
fn shows_a_key(html: &str) -> bool {
    ["consents.", "common.", "error."].iter().any(|prefix| {
        html.match_indices(prefix).any(|(i, _)| {
            html[i + prefix.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
        })
    })
}

fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

#[tokio::test]
async fn every_consent_page_is_entirely_in_the_language_asked_for() {
    let h = Harness::new().await;
    let (citizen, cookie, csrf) = h.citizen().await;
    let app = test::init_service(crate::app(h.state.web.clone())).await;
    let mut ids = BTreeMap::new();
    for lang in ["en", "fr"] {
        // A pending request, an active consent (with a receipt in this language), a past one.
        let pending = h
            .request(
                "employment-social-development",
                &citizen,
                if lang == "en" {
                    &["birthdate"]
                } else {
                    &["address"]
                },
                "pension-enrolment",
                90,
            )
            .await;
        let granted = h
            .request(
                "revenue-agency",
                &citizen,
                if lang == "en" {
                    &["address"]
                } else {
                    &["email"]
                },
                "benefit-eligibility",
                60,
            )
            .await;
        let who = services::consents::ledger::Citizen {
            id: &citizen,
            loa: 2,
            lang: if lang == "en" {
                crate::i18n::Lang::En
            } else {
                crate::i18n::Lang::Fr
            },
        };
        ledger::accept(
            &h.state.ledger,
            &who,
            &granted.id().to_string(),
            &[if lang == "en" { "address" } else { "email" }],
            None,
        )
        .await
        .unwrap();
        ids.insert(lang, (pending.id().to_string(), granted.id().to_string()));
    }
    let refused = h
        .request(
            "revenue-agency",
            &citizen,
            &["phone_number"],
            "benefit-eligibility",
            30,
        )
        .await;
    ledger::refuse(&h.state.ledger, &citizen, &refused.id().to_string())
        .await
        .unwrap();

    for (lang, other) in [("en", "fr"), ("fr", "en")] {
        let (pending, active) = &ids[lang];
        let mut pages = vec![
            ("GET", "/me/consents".to_owned(), String::new()),
            ("GET", "/me/consents/new".to_owned(), String::new()),
            (
                "GET",
                "/me/consents/new?offer=revenue-agency:benefit-eligibility".to_owned(),
                String::new(),
            ),
            ("GET", format!("/me/consents/{active}"), String::new()),
            (
                "GET",
                format!("/me/consents/{active}?done=granted"),
                String::new(),
            ),
            (
                "GET",
                format!("/me/consents/{active}/revoke"),
                String::new(),
            ),
            (
                "GET",
                format!("/me/consents/{active}/receipt"),
                String::new(),
            ),
            (
                "GET",
                format!("/me/consents/{}", refused.id()),
                String::new(),
            ),
            ("GET", "/me/requests".to_owned(), String::new()),
            ("GET", format!("/me/requests/{pending}"), String::new()),
            ("GET", format!("/me/requests/{active}"), String::new()),
            // Forms shown again with an error summary.
            (
                "POST",
                format!("/me/requests/{pending}/accept"),
                format!("csrf_token={csrf}&duration_days=9999"),
            ),
            (
                "POST",
                "/me/consents".to_owned(),
                format!(
                    "csrf_token={csrf}&department=revenue-agency&purpose=benefit-eligibility&mode=once&duration_days=30"
                ),
            ),
        ];
        let forbidden = texts_of(&h, other);
        let expected = texts_of(&h, lang);
        let mut checked = 0;
        for (method, path, body) in pages.drain(..) {
            let req = if method == "GET" {
                get(&path, &cookie, lang)
            } else {
                post(&path, &cookie, &body).insert_header(("Accept-Language", lang))
            };
            let (status, html, _) = call!(app, req);
            assert!(status == 200 || status == 422, "{path}: {status} {html}");
            assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{path}");
            for text in &forbidden {
                assert!(
                    !contains_words(&html, text) && !contains_words(&html, &escaped(text)),
                    "{lang} page {path} shows {other} text `{text}`"
                );
            }
            assert!(!shows_a_key(&html), "{path} shows a message key: {html}");
            assert!(
                expected.iter().any(|t| html.contains(&escaped(t))),
                "{path} shows no {lang} text"
            );
            checked += 1;
        }
        assert_eq!(checked, 13);

        // The dashboard partial, as the lead will include it in `/me`.
        let summary = crate::consents::pages::summary(
            &h.state.ledger,
            &citizen,
            crate::i18n::Lang::parse(lang).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(summary.pending_requests, 2);
        let common = crate::pages::Common {
            lang: if lang == "en" { "en" } else { "fr" },
            other_lang: if lang == "en" { "fr" } else { "en" },
            here: "/me".into(),
            signed_in: true,
            officer: false,
            csrf_token: None,
            acting_label: None,
        };
        let html = h
            .state
            .web
            .pages
            .render(
                "consents/_summary.html",
                &common,
                &serde_json::json!({ "consent_summary": summary }),
            )
            .unwrap();
        assert!(html.contains("/me/requests"));
        for text in &forbidden {
            assert!(
                !contains_words(&html, &escaped(text)),
                "summary shows `{text}`"
            );
        }
        assert!(!shows_a_key(&html), "{html}");
    }
}

/// The application with every French message replaced by a marker: whatever French page text is
/// neither a marker nor catalogue or configuration data did not come through `t()`.
fn marked_state(h: &Harness) -> crate::Web {
    let files: Vec<(String, String)> = crate::embedded::MESSAGES
        .iter()
        .map(|(path, text)| {
            if !path.starts_with("fr/") {
                return ((*path).to_owned(), (*text).to_owned());
            }
            let mut table: toml::Table = toml::from_str(text).unwrap();
            mark(&mut table);
            ((*path).to_owned(), toml::to_string(&table).unwrap())
        })
        .collect();
    let messages =
        crate::i18n::Messages::from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str())))
            .unwrap();
    let pages = crate::pages::Pages::new(Arc::new(messages)).unwrap();
    crate::Web {
        pages: actix_web::web::Data::new(pages),
        ..h.state.web.clone()
    }
}

fn mark(table: &mut toml::Table) {
    for (_, value) in table.iter_mut() {
        match value {
            toml::Value::Table(t) => mark(t),
            toml::Value::String(s) => *s = "⟦⟧".to_owned(),
            _ => {}
        }
    }
}

/// The words of a page's text that are not markers, catalogue or configuration data, numbers,
/// identifiers or URLs.
fn stray_words(h: &Harness, html: &str) -> Vec<String> {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let mut text = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("⟦⟧", " ");
    let c = h.state.policy.catalogue();
    let controller = &h.state.ledger.settings.controller;
    let mut data: Vec<String> = c
        .attributes()
        .iter()
        .flat_map(|a| [a.label_fr.clone(), a.name.clone()])
        .chain(
            c.departments()
                .iter()
                .flat_map(|d| [d.name_fr.clone(), d.id.clone()]),
        )
        .chain(
            c.purposes()
                .iter()
                .flat_map(|p| [p.text_fr.clone(), p.legal_basis_fr.clone(), p.code.clone()]),
        )
        .chain([
            controller.name_fr.clone(),
            controller.contact_fr.clone(),
            controller.street_address.clone(),
            controller.locality.clone(),
            controller.region.clone(),
            controller.postal_code.clone(),
            controller.country.clone(),
            controller.email.clone(),
            consent::RECEIPT_VERSION.to_owned(),
        ])
        // The receipt's own words are part of the signed receipt (services::consents::receipts).
        .chain(
            services::consents::receipts::receipt_texts(services::lang::Lang::Fr)
                .iter()
                .flat_map(|t| (1..=4).map(move |loa| t.replace("{loa}", &loa.to_string()))),
        )
        .collect();
    data.sort_by_key(|d| std::cmp::Reverse(d.len()));
    for d in &data {
        text = text.replace(d.as_str(), " ");
    }
    text.split_whitespace()
        .filter(|w| !w.contains("://") && !w.contains('@'))
        .flat_map(|w| w.split(|c: char| "()[],.;:·—–/?!«»\"".contains(c)))
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
        .filter(|w| !w.chars().any(|c| c.is_ascii_digit()) && w.len() < 20)
        .filter(|w| !["UTC", "http", "https", "jwt"].contains(w))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn no_page_text_bypasses_the_message_catalogue() {
    let h = Harness::new().await;
    let (citizen, cookie, csrf) = h.citizen().await;
    let state = marked_state(&h);
    let app = test::init_service(crate::app(state.clone())).await;
    let pending = h
        .request(
            "employment-social-development",
            &citizen,
            &["birthdate", "address"],
            "pension-enrolment",
            90,
        )
        .await;
    let granted = h
        .request(
            "revenue-agency",
            &citizen,
            &["address", "email"],
            "benefit-eligibility",
            60,
        )
        .await;
    let who = services::consents::ledger::Citizen {
        id: &citizen,
        loa: 2,
        lang: crate::i18n::Lang::Fr,
    };
    let active = granted.id().to_string();
    ledger::accept(&h.state.ledger, &who, &active, &["address"], Some(30))
        .await
        .unwrap();
    let pending = pending.id().to_string();
    let pages = [
        get("/me/consents", &cookie, "fr"),
        get("/me/consents/new", &cookie, "fr"),
        get(
            "/me/consents/new?offer=revenue-agency:benefit-eligibility",
            &cookie,
            "fr",
        ),
        get(
            &format!("/me/consents/{active}?done=granted"),
            &cookie,
            "fr",
        ),
        get(&format!("/me/consents/{active}/revoke"), &cookie, "fr"),
        get(&format!("/me/consents/{active}/receipt"), &cookie, "fr"),
        get("/me/requests", &cookie, "fr"),
        get(&format!("/me/requests/{pending}"), &cookie, "fr"),
        get(&format!("/me/requests/{active}"), &cookie, "fr"),
        post(
            &format!("/me/requests/{pending}/accept"),
            &cookie,
            &format!("csrf_token={csrf}"),
        )
        .insert_header(("Accept-Language", "fr")),
    ];
    for req in pages {
        let (status, html, _) = call!(app, req);
        assert!(status == 200 || status == 422, "{status}: {html}");
        assert!(html.contains("⟦⟧"), "rendered with the marked messages");
        let stray = stray_words(&h, &html);
        assert!(
            stray.is_empty(),
            "text not from the catalogue: {stray:?}\n{html}"
        );
    }
}

/// On "Give a consent", the closed list shows only the chosen option, not its group: every
/// option names its department, and no two options read the same.
#[actix_web::test]
async fn every_offer_in_the_list_reads_differently_and_names_its_department() {
    let h = Harness::new().await;
    let (_citizen, cookie, _csrf) = h.citizen().await;
    let app = test::init_service(crate::app(h.state.web.clone())).await;
    for lang in ["en", "fr"] {
        let (status, html, _) = call!(app, get("/me/consents/new", &cookie, lang));
        assert_eq!(status, 200, "{html}");
        let mut labels = Vec::new();
        for group in html.split("<optgroup label=\"").skip(1) {
            let department = group.split('"').next().unwrap().to_owned();
            let body = group.split("</optgroup>").next().unwrap();
            for option in body.split("<option ").skip(1) {
                let label = option.split('>').nth(1).unwrap().split('<').next().unwrap();
                assert!(
                    label.contains(&department),
                    "{lang}: `{label}` in {department}"
                );
                labels.push(label.to_owned());
            }
        }
        assert!(labels.len() > 1, "{html}");
        let mut unique = labels.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), labels.len(), "{lang}: {labels:?}");
    }
}
