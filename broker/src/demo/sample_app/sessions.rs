//! The sample application's sessions: in memory, keyed by a random cookie value, each with its
//! CSRF token, language, pending authorization request, signed-in account and one-time notice.
//! They go when the process stops, when unused for [`SESSION_IDLE`], at sign-out, and when the
//! broker's back-channel logout names them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::keys::random_token;
use super::oidc::Pending;
use super::page::{Filled, Lang, Notice};
use super::tokens::Logout;

/// Sessions unused for this long are forgotten.
pub const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);

pub struct Session {
    pub csrf: String,
    pub lang: Lang,
    pub pending: Option<Pending>,
    pub account: Option<Account>,
    pub notice: Option<Notice>,
    seen: Instant,
}

/// A signed-in applicant: what the form shows, and what logout needs.
pub struct Account {
    pub id_token: String,
    pub sub: String,
    pub sid: Option<String>,
    pub acr: Option<String>,
    pub filled: Vec<Filled>,
    pub end_session_endpoint: Option<String>,
}

#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    /// Runs `f` on the session `cookie` names, or on a new one whose id is returned with the
    /// result. `None` only if the random source or the lock failed.
    pub fn with<T>(
        &self,
        cookie: Option<&str>,
        f: impl FnOnce(&mut Session) -> T,
    ) -> Option<(T, Option<String>)> {
        let mut sessions = self.0.lock().ok()?;
        let now = Instant::now();
        if let Some(session) = cookie.and_then(|id| sessions.get_mut(id)) {
            session.seen = now;
            return Some((f(session), None));
        }
        sessions.retain(|_, s| now.duration_since(s.seen) < SESSION_IDLE);
        let id = random_token().ok()?;
        let mut session = Session {
            csrf: random_token().ok()?,
            lang: Lang::default(),
            pending: None,
            account: None,
            notice: None,
            seen: now,
        };
        let out = f(&mut session);
        sessions.insert(id.clone(), session);
        Some((out, Some(id)))
    }

    /// Runs `f` on the session `cookie` names if the form's CSRF token is that session's.
    pub fn with_form<T>(
        &self,
        cookie: Option<&str>,
        csrf: &str,
        f: impl FnOnce(&mut Session) -> T,
    ) -> Option<T> {
        let mut sessions = self.0.lock().ok()?;
        let session = sessions.get_mut(cookie?)?;
        if !same(csrf, &session.csrf) {
            return None;
        }
        session.seen = Instant::now();
        Some(f(session))
    }

    /// Signs out every session a logout token names (by `sid`, and by `sub` when it has one);
    /// returns how many.
    pub fn forget(&self, logout: &Logout) -> usize {
        let Ok(mut sessions) = self.0.lock() else {
            return 0;
        };
        let mut forgotten = 0;
        for session in sessions.values_mut() {
            let named = session.account.as_ref().is_some_and(|a| {
                logout
                    .sid
                    .as_ref()
                    .is_none_or(|sid| a.sid.as_ref() == Some(sid))
                    && logout.sub.as_ref().is_none_or(|sub| &a.sub == sub)
            });
            if named {
                session.account = None;
                session.pending = None;
                session.notice = Some(Notice::SignedOut);
                forgotten += 1;
            }
        }
        forgotten
    }
}

/// Compares a secret the browser sent with the one kept, in time independent of where they
/// differ.
pub fn same(sent: &str, kept: &str) -> bool {
    sent.len() == kept.len()
        && sent
            .bytes()
            .zip(kept.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_in(sessions: &Sessions, sid: &str, sub: &str) -> String {
        let ((), id) = sessions
            .with(None, |s| {
                s.account = Some(Account {
                    id_token: "t".into(),
                    sub: sub.into(),
                    sid: Some(sid.into()),
                    acr: None,
                    filled: Vec::new(),
                    end_session_endpoint: None,
                })
            })
            .unwrap();
        id.unwrap()
    }

    #[test]
    fn a_logout_token_forgets_only_the_session_it_names() {
        let sessions = Sessions::default();
        let alice = signed_in(&sessions, "sid-a", "sub-a");
        let bob = signed_in(&sessions, "sid-b", "sub-b");
        let logout = Logout {
            sid: Some("sid-a".into()),
            sub: Some("sub-a".into()),
        };
        assert_eq!(sessions.forget(&logout), 1);
        let account = |id: &str| sessions.with(Some(id), |s| s.account.is_some()).unwrap().0;
        assert!(!account(&alice));
        assert!(account(&bob));
        // The right `sid` with another `sub` names nobody.
        let mismatched = Logout {
            sid: Some("sid-b".into()),
            sub: Some("sub-a".into()),
        };
        assert_eq!(sessions.forget(&mismatched), 0);
    }

    #[test]
    fn a_form_needs_its_sessions_csrf_token() {
        let sessions = Sessions::default();
        let (csrf, id) = sessions.with(None, |s| s.csrf.clone()).unwrap();
        let id = id.unwrap();
        assert_eq!(sessions.with_form(Some(&id), &csrf, |_| 1), Some(1));
        assert_eq!(sessions.with_form(Some(&id), "forged", |_| 1), None);
        assert_eq!(sessions.with_form(None, &csrf, |_| 1), None);
        assert!(!same("abc", "abd") && !same("ab", "abc") && same("abc", "abc"));
    }
}
