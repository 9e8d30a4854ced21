//! Message catalogues: `broker/i18n/<lang>/<area>.toml`, flattened to keys `<area>.<path>`.
//! A test (below) fails when any key lacks its English or French text, or when a template uses a
//! key that does not exist.

use std::collections::HashMap;

pub use services::lang::{Lang, interpolate};

#[derive(Debug, thiserror::Error)]
pub enum MessagesError {
    #[error("message file `{file}` is not valid TOML: {reason}")]
    Parse { file: String, reason: String },
    #[error("message file `{file}` is not under `en/` or `fr/`")]
    Placement { file: String },
}

/// All messages, by language and key.
#[derive(Debug, Default)]
pub struct Messages {
    en: HashMap<String, String>,
    fr: HashMap<String, String>,
}

impl Messages {
    pub fn embedded() -> Result<Self, MessagesError> {
        Self::from_files(super::embedded::MESSAGES.iter().copied())
    }

    pub fn from_files<'a>(
        files: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, MessagesError> {
        let mut messages = Messages::default();
        for (path, text) in files {
            let (lang, file) = path
                .split_once('/')
                .ok_or_else(|| MessagesError::Placement {
                    file: path.to_owned(),
                })?;
            let area = file.trim_end_matches(".toml");
            let table: toml::Table = toml::from_str(text).map_err(|e| MessagesError::Parse {
                file: path.to_owned(),
                reason: e.message().to_owned(),
            })?;
            let target = match Lang::parse(lang) {
                Some(Lang::En) => &mut messages.en,
                Some(Lang::Fr) => &mut messages.fr,
                None => {
                    return Err(MessagesError::Placement {
                        file: path.to_owned(),
                    });
                }
            };
            flatten(area, &toml::Value::Table(table), target);
        }
        Ok(messages)
    }

    /// The text for `key`; the key itself (visibly wrong, and caught by tests) when missing.
    pub fn get<'a>(&'a self, lang: Lang, key: &'a str) -> &'a str {
        let map = match lang {
            Lang::En => &self.en,
            Lang::Fr => &self.fr,
        };
        map.get(key).map(String::as_str).unwrap_or(key)
    }

    pub fn has(&self, lang: Lang, key: &str) -> bool {
        match lang {
            Lang::En => self.en.contains_key(key),
            Lang::Fr => self.fr.contains_key(key),
        }
    }

    /// Keys present in one language but not the other, or empty in either.
    pub fn incomplete(&self) -> Vec<String> {
        let mut bad: Vec<String> = Vec::new();
        for (key, text) in &self.en {
            if text.trim().is_empty() || self.fr.get(key).is_none_or(|t| t.trim().is_empty()) {
                bad.push(format!("{key} (fr)"));
            }
        }
        for (key, text) in &self.fr {
            if text.trim().is_empty() || self.en.get(key).is_none_or(|t| t.trim().is_empty()) {
                bad.push(format!("{key} (en)"));
            }
        }
        bad.sort();
        bad.dedup();
        bad
    }
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut HashMap<String, String>) {
    match value {
        toml::Value::Table(table) => {
            for (k, v) in table {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_english_and_french_text() {
        let messages = Messages::embedded().unwrap();
        assert!(
            messages.incomplete().is_empty(),
            "missing translations: {:?}",
            messages.incomplete()
        );
    }

    #[test]
    fn every_key_a_template_uses_exists_in_both_languages() {
        let messages = Messages::embedded().unwrap();
        let mut missing = Vec::new();
        for (name, source) in super::super::embedded::TEMPLATES {
            for key in template_keys(source) {
                for lang in [Lang::En, Lang::Fr] {
                    if !messages.has(lang, &key) {
                        missing.push(format!("{name}: {key} ({})", lang.code()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "templates use missing keys: {missing:?}"
        );
    }

    /// Every `t("…")` call in a template source.
    pub(crate) fn template_keys(source: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut rest = source;
        while let Some(i) = rest.find("t(\"") {
            let after = &rest[i + 3..];
            // Only a call to `t`, not e.g. `format(`: the character before must not be a letter.
            let before = rest[..i].chars().last();
            if let Some(end) = after.find('"')
                && !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                keys.push(after[..end].to_owned());
            }
            rest = after;
        }
        keys
    }

    #[test]
    fn accept_language_prefers_the_highest_quality_we_have() {
        assert_eq!(
            Lang::from_accept_language("fr-CA,fr;q=0.9,en;q=0.8"),
            Some(Lang::Fr)
        );
        assert_eq!(
            Lang::from_accept_language("de-DE,en;q=0.5,fr;q=0.7"),
            Some(Lang::Fr)
        );
        assert_eq!(Lang::from_accept_language("de"), None);
        assert_eq!(
            Lang::from_accept_language("en;q=0, fr;q=0.1"),
            Some(Lang::Fr)
        );
    }
}
