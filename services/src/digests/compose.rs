//! The digest's text, in the citizen's language: who used which information, why and when, with
//! a link to each record and its proof. Built from audit records, which name attributes and never
//! hold values, so a digest cannot carry a value.

use chrono::DateTime;

use crate::audit_log::Action;
use crate::audit_log::query::RecordView;
use crate::lang::{Lang, interpolate};
use policies::Catalogue;

/// A digest ready to send (the address is added by the sender).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub subject: String,
    pub body: String,
}

struct Phrases {
    /// What comes between an action and its department (French puts a space before a colon).
    colon: &'static str,
    subject: &'static str,
    greeting: &'static str,
    intro: &'static str,
    more: &'static str,
    information: &'static str,
    why: &'static str,
    record: &'static str,
    all: &'static str,
    settings: &'static str,
    footer: &'static str,
    actions: [(&'static str, &'static str); 7],
}

const EN: Phrases = Phrases {
    colon: ": ",
    subject: "Tell Us Once: {count} new notices about the use of your information",
    greeting: "Hello,",
    intro: "Since your last digest, there are {count} new notices about the use of your information:",
    more: "… and {count} more.",
    information: "Information: {names}",
    why: "Why: {purpose}",
    record: "Record and proof: {link}",
    all: "See all your notices: {link}",
    settings: "Change how often you receive this e-mail, or stop it: {link}",
    footer: "This e-mail never contains your information itself, only who used it, which information, why and when. If something looks wrong, sign in to the service directly (do not follow a link you did not expect) and contact the privacy officer.",
    actions: [
        (
            Action::Release.as_str(),
            "A department received your information",
        ),
        (
            Action::ReleaseDenied.as_str(),
            "A department's request was refused",
        ),
        (
            Action::ConsentRequested.as_str(),
            "A department asked for your consent",
        ),
        (
            Action::DeliveryDelivered.as_str(),
            "Your change was delivered to a department",
        ),
        (
            Action::DelegationRegistered.as_str(),
            "A department registered someone who may act for you",
        ),
        (
            Action::DelegationAccepted.as_str(),
            "Someone may now act for you",
        ),
        (
            Action::DelegationEnded.as_str(),
            "A delegation to act for you ended",
        ),
    ],
};

const FR: Phrases = Phrases {
    colon: " : ",
    subject: "Dites-le-nous une fois : {count} nouveaux avis sur l'utilisation de vos renseignements",
    greeting: "Bonjour,",
    intro: "Depuis votre dernier résumé, il y a {count} nouveaux avis sur l'utilisation de vos renseignements :",
    more: "… et {count} de plus.",
    information: "Renseignements : {names}",
    why: "Pourquoi : {purpose}",
    record: "Enregistrement et preuve : {link}",
    all: "Voir tous vos avis : {link}",
    settings: "Changer la fréquence de ce courriel, ou l'arrêter : {link}",
    footer: "Ce courriel ne contient jamais vos renseignements eux-mêmes, seulement qui les a utilisés, lesquels, pourquoi et quand. Si quelque chose vous semble anormal, connectez-vous directement au service (ne suivez pas un lien inattendu) et communiquez avec l'agent de la protection de la vie privée.",
    actions: [
        (
            Action::Release.as_str(),
            "Un ministère a reçu vos renseignements",
        ),
        (
            Action::ReleaseDenied.as_str(),
            "La demande d'un ministère a été refusée",
        ),
        (
            Action::ConsentRequested.as_str(),
            "Un ministère a demandé votre consentement",
        ),
        (
            Action::DeliveryDelivered.as_str(),
            "Votre changement a été transmis à un ministère",
        ),
        (
            Action::DelegationRegistered.as_str(),
            "Un ministère a inscrit une personne qui peut agir en votre nom",
        ),
        (
            Action::DelegationAccepted.as_str(),
            "Une personne peut maintenant agir en votre nom",
        ),
        (
            Action::DelegationEnded.as_str(),
            "Une délégation pour agir en votre nom a pris fin",
        ),
    ],
};

fn phrases(lang: Lang) -> &'static Phrases {
    match lang {
        Lang::En => &EN,
        Lang::Fr => &FR,
    }
}

/// The digest of `records` (the newest, at most a page) out of `total` notices.
pub fn digest(
    lang: Lang,
    catalogue: &Catalogue,
    base_url: &str,
    records: &[RecordView],
    total: u64,
) -> Text {
    let p = phrases(lang);
    let base = base_url.trim_end_matches('/');
    let count = total.to_string();
    let mut body = String::new();
    body.push_str(p.greeting);
    body.push_str("\n\n");
    body.push_str(&interpolate(p.intro, &[("count", count.clone())]));
    body.push_str("\n\n");
    for r in records {
        body.push_str(&line(p, lang, catalogue, base, r));
        body.push_str("\n\n");
    }
    let shown = u64::try_from(records.len()).unwrap_or(u64::MAX);
    if total > shown {
        let more = (total - shown).to_string();
        body.push_str(&interpolate(p.more, &[("count", more)]));
        body.push_str("\n\n");
    }
    body.push_str(&interpolate(
        p.all,
        &[("link", format!("{base}/me/notices"))],
    ));
    body.push('\n');
    body.push_str(&interpolate(
        p.settings,
        &[("link", format!("{base}/me/notices/digest"))],
    ));
    body.push_str("\n\n-- \n");
    body.push_str(p.footer);
    body.push('\n');
    Text {
        subject: interpolate(p.subject, &[("count", count)]),
        body,
    }
}

fn line(p: &Phrases, lang: Lang, catalogue: &Catalogue, base: &str, r: &RecordView) -> String {
    let date = DateTime::from_timestamp_millis(r.time_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let action = p
        .actions
        .iter()
        .find(|(a, _)| *a == r.action)
        .map_or(r.action.as_str(), |(_, label)| label);
    let mut out = format!("* {date} — {action}");
    if let Some(d) = r.department_id.as_deref() {
        let name = catalogue.department(d).map_or(d, |def| match lang {
            Lang::En => def.name_en.as_str(),
            Lang::Fr => def.name_fr.as_str(),
        });
        out.push_str(p.colon);
        out.push_str(name);
    }
    if !r.attributes.is_empty() {
        let names: Vec<&str> = r
            .attributes
            .iter()
            .map(|a| {
                catalogue.attribute(a).map_or(a.as_str(), |def| match lang {
                    Lang::En => def.label_en.as_str(),
                    Lang::Fr => def.label_fr.as_str(),
                })
            })
            .collect();
        out.push_str("\n  ");
        out.push_str(&interpolate(p.information, &[("names", names.join(", "))]));
    }
    if let Some(purpose) = r.purpose.as_deref() {
        let text = catalogue
            .purpose(purpose)
            .map_or(purpose, |def| match lang {
                Lang::En => def.text_en.as_str(),
                Lang::Fr => def.text_fr.as_str(),
            });
        out.push_str("\n  ");
        out.push_str(&interpolate(p.why, &[("purpose", text.to_owned())]));
    }
    out.push_str("\n  ");
    out.push_str(&interpolate(
        p.record,
        &[("link", format!("{base}/me/activity/{}", r.id))],
    ));
    out
}
