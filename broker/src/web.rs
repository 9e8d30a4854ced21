//! Server-rendered pages: templates and messages embedded in the binary, English and French on
//! every page, sessions and CSRF protection as types. Pages work without JavaScript.

pub mod assets;
pub mod csrf;
pub mod i18n;
pub mod lang;
pub mod pages;
pub mod session;

/// Everything embedded by `build.rs`.
pub mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}
