//! The sample application's one page, server-rendered in English or French: the pension
//! application form, empty until the applicant signs in with Tell Us Once, then filled from the
//! verified claims with each value's source and level of assurance. Every page says, in both
//! languages, that this is a development sample and not a real government service.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "en" => Some(Self::En),
            "fr" => Some(Self::Fr),
            _ => None,
        }
    }

    fn pick(self, en: &'static str, fr: &'static str) -> &'static str {
        match self {
            Self::En => en,
            Self::Fr => fr,
        }
    }
}

/// The claims the form holds, in its order, with their labels and autocomplete tokens.
const FIELDS: [(&str, &str, &str, &str); 4] = [
    ("given_name", "Given name", "Prénom", "given-name"),
    (
        "family_name",
        "Family name",
        "Nom de famille",
        "family-name",
    ),
    ("birthdate", "Date of birth", "Date de naissance", "bday"),
    ("address", "Address", "Adresse", "street-address"),
];

/// Where a value came from, as `verified_claims` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub source: Option<String>,
    pub record_type: Option<String>,
    pub assurance_level: Option<String>,
    pub trust_framework: Option<String>,
}

/// One filled field: its value as the form shows it and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filled {
    pub claim: String,
    pub value: String,
    pub provenance: Provenance,
}

/// Reads userinfo's `verified_claims` (one object or an array of them, OpenID Identity
/// Assurance §5) into the form's fields. A claim outside `verified_claims` is not used: the form
/// is filled from verified facts only.
pub fn filled_from(userinfo: &Value) -> Vec<Filled> {
    let elements: Vec<&Value> = match userinfo.get("verified_claims") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    let mut filled = Vec::new();
    for (claim, ..) in FIELDS {
        let found = elements.iter().find_map(|element| {
            let value = element.get("claims")?.get(claim)?;
            Some((value, element.get("verification")))
        });
        let Some((value, verification)) = found else {
            continue;
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let record = verification
            .and_then(|v| v.get("evidence"))
            .and_then(|e| e.get(0))
            .and_then(|e| e.get("record"));
        filled.push(Filled {
            claim: claim.to_owned(),
            value: display_value(value),
            provenance: Provenance {
                source: text(
                    record
                        .and_then(|r| r.get("source"))
                        .and_then(|s| s.get("name")),
                ),
                record_type: text(record.and_then(|r| r.get("type"))),
                assurance_level: text(verification.and_then(|v| v.get("assurance_level"))),
                trust_framework: text(verification.and_then(|v| v.get("trust_framework"))),
            },
        });
    }
    filled
}

/// A claim's value as text: an address (OIDC Core §5.1.1) on lines, street first.
fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(address) => {
            if let Some(formatted) = address.get("formatted").and_then(Value::as_str) {
                return formatted.to_owned();
            }
            let part = |name: &str| address.get(name).and_then(Value::as_str).unwrap_or("");
            let city = [part("locality"), part("region"), part("postal_code")]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            [
                part("street_address").to_owned(),
                city,
                part("country").to_owned(),
            ]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
        }
        other => other.to_string(),
    }
}

/// What the page has to say above the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The applicant refused on the broker's consent screen (`access_denied`).
    Refused,
    /// The broker answered the authorization request with another error code.
    AuthorizationError(String),
    /// The sign-in could not be finished: a check of the broker's answer failed (the log says
    /// which).
    Failed,
    /// The broker or the department signed the applicant out.
    SignedOut,
    /// The form was submitted (nothing is sent anywhere: it is a sample).
    Submitted,
}

/// What the page shows.
#[derive(Debug)]
pub struct View<'a> {
    pub lang: Lang,
    pub csrf: &'a str,
    /// The filled fields once signed in, with the `acr` the broker reported.
    pub signed_in: Option<(&'a [Filled], Option<&'a str>)>,
    pub notice: Option<&'a Notice>,
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fff;line-height:1.5}\
.sample{background:#fff3cd;border-bottom:3px solid #8a6d00;padding:.75rem 1rem;font-weight:600}\
header,main,footer{max-width:44rem;margin:0 auto;padding:1rem}\
header{display:flex;justify-content:space-between;align-items:baseline;gap:1rem;flex-wrap:wrap}\
.dept{font-weight:700;margin:0}\
a{color:#0b4f9c}\
a:focus,button:focus,input:focus,textarea:focus,.skip:focus{outline:3px solid #b35c00;outline-offset:2px}\
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}\
.field{margin:0 0 1.25rem}label{display:block;font-weight:600}\
input,textarea{font:inherit;width:100%;max-width:30rem;box-sizing:border-box;padding:.4rem;border:2px solid #555}\
.source{margin:.25rem 0 0;font-size:.9rem;color:#3d3d3d}\
button{font:inherit;padding:.5rem 1rem;border:2px solid #0b4f9c;background:#0b4f9c;color:#fff;cursor:pointer}\
button.secondary{background:#fff;color:#0b4f9c}\
.alert{border-left:6px solid #a4161a;padding:.5rem 1rem;background:#fbeaea}\
.status{border-left:6px solid #0b6e4f;padding:.5rem 1rem;background:#e8f5ef}\
footer{font-size:.9rem;color:#3d3d3d}";

/// The whole page.
pub fn render(view: &View<'_>) -> String {
    let lang = view.lang;
    let t = |en, fr| lang.pick(en, fr);
    let (other_code, other_name) = match lang {
        Lang::En => ("fr", "Français"),
        Lang::Fr => ("en", "English"),
    };
    let mut html = format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body>\
<a class=\"skip\" href=\"#main\">{skip}</a>\
<div class=\"sample\" role=\"note\"><span lang=\"en\">Development sample — not a real government service</span> · \
<span lang=\"fr\">Exemple de développement — pas un vrai service gouvernemental</span></div>\
<header><p class=\"dept\">{dept}</p><nav aria-label=\"{langnav}\">\
<a href=\"/?lang={other_code}\" lang=\"{other_code}\" hreflang=\"{other_code}\">{other_name}</a></nav></header>\
<main id=\"main\"><h1>{h1}</h1>",
        code = lang.code(),
        title = t(
            "Old Age Security pension application — development sample",
            "Demande de pension de la Sécurité de la vieillesse — exemple de développement"
        ),
        skip = t("Skip to the application", "Passer à la demande"),
        dept = t(
            "Employment and Social Development (sample department)",
            "Emploi et Développement social (ministère fictif)"
        ),
        langnav = t("Language", "Langue"),
        h1 = t(
            "Apply for the Old Age Security pension",
            "Demander la pension de la Sécurité de la vieillesse"
        ),
    );
    if let Some(notice) = view.notice {
        html.push_str(&notice_html(lang, notice));
    }
    let csrf = format!(
        "<input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
        esc(view.csrf)
    );
    let filled: &[Filled] = match view.signed_in {
        Some((filled, acr)) => {
            let level = acr
                .and_then(|a| a.rsplit(':').next())
                .map(|l| {
                    format!(
                        " ({} {})",
                        t("level of assurance", "niveau d’assurance"),
                        esc(l)
                    )
                })
                .unwrap_or_default();
            html.push_str(&format!(
                "<section aria-labelledby=\"account\"><h2 id=\"account\">{h}</h2><p>{p}{level}.</p>\
<form method=\"post\" action=\"/logout\">{csrf}<button type=\"submit\" class=\"secondary\">{b}</button></form></section>",
                h = t("Signed in with Tell Us Once", "Connecté avec Une fois suffit"),
                p = t(
                    "The form below is filled with the facts Tell Us Once verified and you agreed to share",
                    "Le formulaire ci-dessous est rempli avec les renseignements vérifiés par Une fois suffit que vous avez accepté de communiquer"
                ),
                b = t("Sign out", "Se déconnecter"),
            ));
            filled
        }
        None => {
            html.push_str(&format!(
                "<section aria-labelledby=\"fill\"><h2 id=\"fill\">{h}</h2><p>{p}</p>\
<form method=\"post\" action=\"/login\">{csrf}<button type=\"submit\">{b}</button></form></section>",
                h = t("Fill in the form for me", "Remplir le formulaire pour moi"),
                p = t(
                    "Sign in with Tell Us Once: you will see what this department asks for and why, and the form will be filled with your verified information if you agree.",
                    "Connectez-vous avec Une fois suffit : vous verrez ce que ce ministère demande et pourquoi, et le formulaire sera rempli avec vos renseignements vérifiés si vous acceptez."
                ),
                b = t("Sign in with Tell Us Once", "Se connecter avec Une fois suffit"),
            ));
            &[]
        }
    };
    html.push_str(&format!(
        "<form method=\"post\" action=\"/apply\" aria-labelledby=\"details\">{csrf}<h2 id=\"details\">{}</h2>",
        t("Your information", "Vos renseignements")
    ));
    for (claim, en, fr, autocomplete) in FIELDS {
        let field = filled.iter().find(|f| f.claim == claim);
        let value = field.map(|f| esc(&f.value)).unwrap_or_default();
        let mut described: Vec<String> = Vec::new();
        let hint = if claim == "birthdate" {
            described.push(format!("{claim}-format"));
            format!(
                "<p class=\"source\" id=\"{claim}-format\">{}</p>",
                t(
                    "Year-month-day, for example 1958-04-12",
                    "Année-mois-jour, par exemple 1958-04-12"
                )
            )
        } else {
            String::new()
        };
        let source = match field {
            Some(f) => {
                described.push(format!("{claim}-source"));
                provenance_html(lang, claim, &f.provenance)
            }
            None => String::new(),
        };
        let attribute = if described.is_empty() {
            String::new()
        } else {
            format!(" aria-describedby=\"{}\"", described.join(" "))
        };
        let control = if claim == "address" {
            format!(
                "<textarea id=\"{claim}\" name=\"{claim}\" rows=\"3\" autocomplete=\"{autocomplete}\"{attribute}>{value}</textarea>"
            )
        } else {
            format!(
                "<input id=\"{claim}\" name=\"{claim}\" value=\"{value}\" autocomplete=\"{autocomplete}\"{attribute}>"
            )
        };
        html.push_str(&format!(
            "<div class=\"field\"><label for=\"{claim}\">{}</label>{hint}{control}{source}</div>",
            lang.pick(en, fr)
        ));
    }
    html.push_str(&format!(
        "<button type=\"submit\">{}</button></form></main><footer><p>{}</p></footer></body></html>",
        t("Submit the application", "Soumettre la demande"),
        t(
            "A development sample of a department's web application, to show how it signs applicants in through Tell Us Once (OpenID Connect, FAPI 2.0). Nothing entered here is sent to any department.",
            "Un exemple de développement d’application Web ministérielle, pour montrer comment elle connecte les demandeurs par Une fois suffit (OpenID Connect, FAPI 2.0). Rien de ce qui est saisi ici n’est envoyé à un ministère."
        )
    ));
    html
}

fn provenance_html(lang: Lang, claim: &str, p: &Provenance) -> String {
    let t = |en, fr| lang.pick(en, fr);
    let mut parts = vec![t("Verified", "Vérifié").to_owned()];
    if let Some(source) = &p.source {
        let kind = match p.record_type.as_deref() {
            Some("credential_provider") => t(" (credential provider)", " (fournisseur d’identité)"),
            Some("department_register") => {
                t(" (government register)", " (registre gouvernemental)")
            }
            Some("citizen_declaration") => t(" (your own declaration)", " (votre déclaration)"),
            _ => "",
        };
        parts.push(format!(
            "{} {}{kind}",
            t("source:", "source :"),
            esc(source)
        ));
    }
    if let Some(level) = &p.assurance_level {
        let number = level.trim_start_matches("loa");
        parts.push(format!(
            "{} {}",
            t("level of assurance", "niveau d’assurance"),
            esc(number)
        ));
    }
    if let Some(framework) = &p.trust_framework {
        parts.push(format!("{} {}", t("framework", "cadre"), esc(framework)));
    }
    format!(
        "<p class=\"source\" id=\"{claim}-source\">{}</p>",
        parts.join(" · ")
    )
}

fn notice_html(lang: Lang, notice: &Notice) -> String {
    let t = |en, fr| lang.pick(en, fr);
    let alert = |h: &str, p: String| {
        format!("<div class=\"alert\" role=\"alert\"><h2>{h}</h2><p>{p}</p></div>")
    };
    match notice {
        Notice::Refused => alert(
            t("You did not agree to share", "Vous n’avez pas accepté de communiquer vos renseignements"),
            t(
                "Tell Us Once shared nothing with this department. You can fill in the form yourself, or sign in again.",
                "Une fois suffit n’a rien communiqué à ce ministère. Vous pouvez remplir le formulaire vous-même ou vous reconnecter."
            )
            .to_owned(),
        ),
        Notice::AuthorizationError(code) => alert(
            t("The sign-in did not succeed", "La connexion n’a pas réussi"),
            format!(
                "{} <code>{}</code>",
                t("Tell Us Once answered with the error", "Une fois suffit a répondu par l’erreur"),
                esc(code)
            ),
        ),
        Notice::Failed => alert(
            t("The sign-in could not be finished", "La connexion n’a pas pu être terminée"),
            t(
                "Tell Us Once could not be reached, or its answer did not pass this application’s security checks, so nothing was filled in. Please try again.",
                "Une fois suffit n’a pas pu être joint, ou sa réponse n’a pas passé les vérifications de sécurité de cette application : rien n’a été rempli. Veuillez réessayer."
            )
            .to_owned(),
        ),
        Notice::SignedOut => format!(
            "<div class=\"status\" role=\"status\"><p>{}</p></div>",
            t("You are signed out.", "Vous êtes déconnecté.")
        ),
        Notice::Submitted => format!(
            "<div class=\"status\" role=\"status\"><p>{}</p></div>",
            t(
                "Application received. This is a development sample: nothing was sent to any department.",
                "Demande reçue. Ceci est un exemple de développement : rien n’a été envoyé à un ministère."
            )
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn userinfo() -> Value {
        json!({
            "sub": "pairwise-1",
            "verified_claims": [
                {"verification": {"trust_framework": "pctf", "assurance_level": "loa2",
                    "evidence": [{"type": "electronic_record", "record": {"type": "credential_provider",
                        "source": {"name": "demo-bank"}}}]},
                 "claims": {"given_name": "Alice", "family_name": "Tremblay",
                    "address": {"street_address": "123, rue Principale", "locality": "Gatineau",
                        "region": "QC", "postal_code": "J8X 1A1", "country": "CA"}}},
                {"verification": {"trust_framework": "pctf", "assurance_level": "loa3"},
                 "claims": {"birthdate": "1958-04-12"}},
            ],
            "given_name": "Mallory",
        })
    }

    #[test]
    fn the_form_is_filled_from_verified_claims_with_their_provenance() {
        let filled = filled_from(&userinfo());
        let value = |c: &str| filled.iter().find(|f| f.claim == c).unwrap().value.clone();
        assert_eq!(
            value("given_name"),
            "Alice",
            "verified, not the plain claim"
        );
        assert_eq!(
            value("address"),
            "123, rue Principale\nGatineau QC J8X 1A1\nCA"
        );
        let birth = filled.iter().find(|f| f.claim == "birthdate").unwrap();
        assert_eq!(birth.provenance.assurance_level.as_deref(), Some("loa3"));
        assert_eq!(birth.provenance.source, None);

        let page = render(&View {
            lang: Lang::Fr,
            csrf: "c\"srf",
            signed_in: Some((&filled, Some("urn:tell-us-once:loa:2"))),
            notice: None,
        });
        assert!(page.starts_with("<!doctype html><html lang=\"fr\">"));
        assert!(page.contains("Development sample — not a real government service"));
        assert!(page.contains("Exemple de développement — pas un vrai service gouvernemental"));
        assert!(page.contains("value=\"c&quot;srf\""), "escaped");
        assert!(page.contains(
            "<input id=\"given_name\" name=\"given_name\" value=\"Alice\" autocomplete=\"given-name\" aria-describedby=\"given_name-source\">"
        ));
        assert!(
            page.contains("source : demo-bank (fournisseur d’identité) · niveau d’assurance 2")
        );
        assert!(page.contains(">123, rue Principale\nGatineau QC J8X 1A1\nCA</textarea>"));
        assert!(page.contains("<label for=\"family_name\">Nom de famille</label>"));
        assert!(page.contains("href=\"/?lang=en\""));
    }

    #[test]
    fn before_sign_in_the_form_is_empty_and_offers_tell_us_once() {
        let page = render(&View {
            lang: Lang::En,
            csrf: "t",
            signed_in: None,
            notice: Some(&Notice::Refused),
        });
        assert!(page.contains("<form method=\"post\" action=\"/login\">"));
        assert!(page.contains(">Sign in with Tell Us Once</button>"));
        assert!(page.contains("value=\"\" autocomplete=\"given-name\">"));
        assert!(page.contains("role=\"alert\"><h2>You did not agree to share</h2>"));
    }
}
