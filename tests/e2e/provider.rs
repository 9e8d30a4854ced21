//! The broker as an OpenID Provider (issue 14): departments' web applications sign citizens in
//! through it, and `broker demo`'s sample department application does so end to end.

mod demo;
