//! Audit query parameters: limits, cursors, time bounds and filters. A cursor we issue and a time
//! we print read back as themselves; the filters a page links to read back as the same filter;
//! any text is a filter or `audit_invalid_filter` / `audit_invalid_cursor`, never a panic.

use proptest::prelude::*;

use super::*;
use crate::error::PublicError;
use crate::testing::proptest_cases;

fn code(e: &QueryError) -> &'static str {
    e.code()
}

/// Text near what each field takes: codes, times, digits, with odd characters and spaces.
fn near_miss() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => "[ ]?[a-z0-9_:.-]{0,70}[ ]?",
        2 => "[0-9+-]{0,25}",
        2 => "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))?",
        1 => proptest::sample::select(Action::ALL.to_vec()).prop_map(|a| a.as_str().to_owned()),
        1 => proptest::sample::select(Outcome::ALL.to_vec()).prop_map(|o| o.as_str().to_owned()),
    ]
}

fn params() -> impl Strategy<Value = FilterParams> {
    let field = || proptest::option::of(near_miss());
    (
        (field(), field(), field(), field(), field()),
        (field(), field(), field(), field()),
        proptest::option::of(prop_oneof![0u64..600, any::<u64>()]),
    )
        .prop_map(
            |(
                (citizen, department, purpose, action, outcome),
                (reason, from, to, cursor),
                limit,
            )| {
                FilterParams {
                    citizen,
                    department,
                    purpose,
                    action,
                    outcome,
                    reason,
                    from,
                    to,
                    cursor,
                    limit,
                }
            },
        )
}

fn with_limit(limit: Option<u64>) -> FilterParams {
    FilterParams {
        limit,
        ..FilterParams::default()
    }
}

fn with_cursor(cursor: &str) -> FilterParams {
    FilterParams {
        cursor: Some(cursor.to_owned()),
        ..FilterParams::default()
    }
}

/// Any time chrono can print, to the millisecond.
fn time_ms() -> impl Strategy<Value = i64> {
    prop_oneof![
        -62_135_596_800_000i64..253_402_300_799_999, // years 1 to 9999
        0i64..4_102_444_800_000,                     // 1970 to 2100
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(256)))]

    #[test]
    fn a_limit_is_one_to_five_hundred_or_audit_invalid_filter(limit in proptest::option::of(prop_oneof![0u64..=501, any::<u64>()])) {
        match (with_limit(limit).limit(), limit) {
            (Ok(n), None) => prop_assert_eq!(n, DEFAULT_LIMIT),
            (Ok(n), Some(asked)) => {
                prop_assert_eq!(n, asked);
                prop_assert!((1..=MAX_LIMIT).contains(&n));
            }
            (Err(e), Some(asked)) => {
                prop_assert!(!(1..=MAX_LIMIT).contains(&asked));
                prop_assert_eq!(code(&e), "audit_invalid_filter");
                let is_limit = matches!(e, QueryError::InvalidFilter { field: "limit", .. });
                prop_assert!(is_limit);
            }
            (Err(e), None) => prop_assert!(false, "{e:?}"),
        }
    }

    #[test]
    fn a_cursor_we_issue_reads_back(seq in prop_oneof![0i64..1000, 0i64..=i64::MAX]) {
        // `newest_first` and `checkpoints` issue an i64 seq or tree size as text.
        prop_assert_eq!(with_cursor(&seq.to_string()).cursor().ok(), Some(Some(seq as u64)));
    }

    #[test]
    fn a_cursor_is_up_to_nineteen_digits_or_audit_invalid_cursor(cursor in prop_oneof![
        "[0-9]{0,22}",
        "[0-9]{18,21}",
        "0{0,21}[0-9]",
        "[ +-]?[0-9]{1,5}[ ]?",
        any::<String>(),
    ]) {
        let documented = cursor.len() <= 19 && cursor.bytes().all(|b| b.is_ascii_digit());
        match with_cursor(&cursor).cursor() {
            Ok(None) => prop_assert!(cursor.is_empty()),
            Ok(Some(n)) => {
                prop_assert!(documented && !cursor.is_empty());
                prop_assert_eq!(Some(n), cursor.parse::<u64>().ok());
            }
            Err(e) => {
                prop_assert!(!documented, "{cursor:?} refused");
                prop_assert_eq!(code(&e), "audit_invalid_cursor");
            }
        }
    }

    #[test]
    fn a_time_we_print_reads_back_as_the_same_instant(ms in time_ms(), end in any::<bool>()) {
        prop_assert_eq!(parse_time("from", &rfc3339(ms), end).ok(), Some(ms));
        let seconds = ms.div_euclid(1000);
        let t = DateTime::<Utc>::from_timestamp(seconds, 0).unwrap();
        for text in [
            t.to_rfc3339(),
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            t.with_timezone(&chrono::FixedOffset::east_opt(5 * 3600 + 30 * 60).unwrap()).to_rfc3339(),
            format!(" {} ", t.to_rfc3339()),
        ] {
            prop_assert_eq!(parse_time("from", &text, end).ok(), Some(seconds * 1000), "{}", text);
        }
    }

    #[test]
    fn a_date_means_its_start_or_for_an_end_bound_the_next_days_start(ms in time_ms()) {
        let day = DateTime::<Utc>::from_timestamp_millis(ms).unwrap().date_naive();
        let text = day.format("%Y-%m-%d").to_string();
        let start = day.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis();
        prop_assert_eq!(parse_time("from", &text, false).ok(), Some(start));
        prop_assert_eq!(parse_time("to", &text, true).ok(), Some(start + 86_400_000));
    }

    #[test]
    fn any_time_text_is_a_time_or_audit_invalid_filter_naming_its_field(text in near_miss()) {
        if let Err(e) = parse_time("to", &text, true) {
            prop_assert_eq!(code(&e), "audit_invalid_filter");
            let names_to = matches!(e, QueryError::InvalidFilter { field: "to", .. });
            prop_assert!(names_to);
            // The refusal does not repeat what was sent.
            prop_assert!(text.trim().len() < 24 || !e.to_string().contains(text.trim()));
        }
    }

    #[test]
    fn any_parameters_are_a_filter_or_a_stable_refusal(p in params()) {
        match p.filter() {
            Ok(f) => {
                for (got, sent) in [(&f.citizen_id, &p.citizen), (&f.department_id, &p.department), (&f.purpose, &p.purpose), (&f.reason, &p.reason)] {
                    let sent = sent.as_deref().map(str::trim).filter(|s| !s.is_empty());
                    prop_assert_eq!(got.as_deref(), sent);
                }
                prop_assert_eq!(f.action.map(|a| a.as_str()), p.action.as_deref().map(str::trim).filter(|s| !s.is_empty()));
                if let (Some(from), Some(to)) = (f.from_ms, f.to_ms) {
                    prop_assert!(from < to);
                }
                // The facts recorded about a search name ids and codes only.
                prop_assert!(f.describe().values().all(|v| v.len() <= 64 || v.parse::<i64>().is_ok()));
            }
            Err(e) => prop_assert_eq!(code(&e), "audit_invalid_filter"),
        }
        let _ = (p.limit(), p.cursor());
    }

    /// The console links to its pages and exports with the filter in the query string.
    #[test]
    fn filters_written_to_a_query_string_read_back_the_same(p in params()) {
        let text = serde_urlencoded::to_string(&p).unwrap();
        let back: FilterParams = serde_urlencoded::from_str(&text).unwrap();
        prop_assert_eq!(back.filter().ok(), p.filter().ok());
        prop_assert_eq!(back.limit().ok(), p.limit().ok());
        prop_assert_eq!(back.cursor().ok(), p.cursor().ok());
        prop_assert_eq!(format!("{back:?}"), format!("{p:?}"));
    }
}
