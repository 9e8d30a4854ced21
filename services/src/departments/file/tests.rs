use super::*;
use crate::departments;
use store::testdb::TestDb;

const EC_KEY: &str = r#"{ kty = "EC", crv = "P-256", kid = "k1", x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }"#;
const EC_KEY_JSON: &str = r#"{"kty": "EC", "crv": "P-256", "kid": "k1", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

fn catalogue() -> policies::Catalogue {
    policies::Catalogue::embedded().unwrap()
}

fn parse(text: &str) -> RegistryFile {
    toml::from_str(text).unwrap()
}

fn with_key(text: &str) -> String {
    text.replace("KEY", EC_KEY)
}

#[tokio::test]
async fn a_file_registers_clients_delivery_and_new_departments() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let cat = catalogue();
    departments::sync_catalogue(&db, cat.departments())
        .await
        .unwrap();
    departments::set_active(&db, "revenue-agency", false)
        .await
        .unwrap();
    let file = parse(&with_key(
        r#"
[[department]]
id = "revenue-agency"
delivery = { kind = "push", endpoint = "https://revenue.example/tuo/events" }
[[department.client]]
client_id = "cra-benefits"
scopes = ["attributes:read", "consent:request"]
jwks = { keys = [KEY] }
[[department.client]]
client_id = "cra-batch"
jwks_uri = "https://revenue.example/jwks.json"

[[department]]
id = "municipal-housing"
name_en = "Municipal Housing Office"
name_fr = "Office municipal d'habitation"
sector_identifier = "housing.city.example"
authoritative_for = ["address"]
delivery = { kind = "file-drop", directory = "/var/spool/tuo/housing" }
"#,
    ));
    let applied = apply(&db, &cat, &file).await.unwrap();
    assert_eq!(applied.added, ["municipal-housing"]);
    assert_eq!(applied.updated, ["revenue-agency"]);
    assert_eq!(applied.clients, ["cra-benefits", "cra-batch"]);
    assert_eq!(
        applied.client_departments,
        ["revenue-agency", "revenue-agency"]
    );
    let revenue = departments::get(&db, "revenue-agency")
        .await
        .unwrap()
        .unwrap();
    assert!(
        !revenue.active,
        "an import never re-enables a disabled department"
    );
    assert_eq!(revenue.delivery.unwrap()["kind"], "push");
    assert_eq!(revenue.sector_identifier, "revenue.gc.example");
    let cra = departments::client(&db, "cra-benefits")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cra.scopes, ["attributes:read", "consent:request"]);
    let batch = departments::client(&db, "cra-batch")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(batch.scopes, ["attributes:read"], "the default scope");
    assert_eq!(
        batch.keys,
        ClientKeys::Uri("https://revenue.example/jwks.json".into())
    );
    let housing = departments::get(&db, "municipal-housing")
        .await
        .unwrap()
        .unwrap();
    assert!(housing.active);
    assert_eq!(housing.authoritative_for, ["address"]);
    // Applying the same file again changes nothing and is not an error.
    let again = apply(&db, &cat, &file).await.unwrap();
    assert!(again.added.is_empty());
}

#[tokio::test]
async fn a_bad_entry_anywhere_writes_nothing() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let cat = catalogue();
    departments::sync_catalogue(&db, cat.departments())
        .await
        .unwrap();
    let good = with_key(
        r#"
[[department]]
id = "passport-office"
[[department.client]]
client_id = "passport-app"
jwks = { keys = [KEY] }
"#,
    );
    let cases = [
        ("private key", "private key", good.replace("kid = \"k1\"", "kid = \"k1\", d = \"c2VjcmV0\"")),
        ("no key", "no usable public key", good.replace("jwks = { keys = [KEY] }", "jwks = { keys = [] }").replace(EC_KEY, "")),
        ("two key sources", "exactly one of", good.replace("jwks = {", "jwks_uri = \"https://x.example/jwks\"\njwks = {")),
        ("plain http jwks_uri", "must use https", good.replace(&format!("jwks = {{ keys = [{EC_KEY}] }}"), "jwks_uri = \"http://dept.example/jwks\"")),
        ("unknown scope", "unknown scope `everything`", good.replace("jwks = {", "scopes = [\"everything\"]\njwks = {")),
        ("catalogue renamed", "come from the catalogue", good.replace("id = \"passport-office\"", "id = \"passport-office\"\nname_en = \"Passports R Us\"")),
        ("bad delivery", "`delivery`", good.replace("id = \"passport-office\"", "id = \"passport-office\"\ndelivery = { kind = \"push\", endpoint = \"http://dept.example/events\" }")),
        ("unknown delivery kind", "`delivery`", good.replace("id = \"passport-office\"", "id = \"passport-office\"\ndelivery = { kind = \"carrier-pigeon\" }")),
        ("push settings as a pull source", "is not a pull source", good.replace("id = \"passport-office\"", "id = \"vital-statistics\"\npull_source = { kind = \"push\", endpoint = \"https://v.example/e\" }")),
        ("plain http pull source", "`pull_source`", good.replace("id = \"passport-office\"", "id = \"vital-statistics\"\npull_source = { base_url = \"http://v.example/tuo\" }")),
        ("pull source secret", "`authorization`", good.replace("id = \"passport-office\"", "id = \"vital-statistics\"\npull_source = { base_url = \"https://v.example/tuo\", authorization = \"c2VjcmV0 with space\" }")),
        ("pull source of a department authoritative for nothing", "authoritative for no attribute", good.replace("id = \"passport-office\"", "id = \"passport-office\"\npull_source = { base_url = \"https://p.example/tuo\" }")),
        ("new department without a sector", "`sector_identifier` is required", good.replace("id = \"passport-office\"", "id = \"new-dept\"\nname_en = \"N\"\nname_fr = \"N\"")),
        ("bad id", "ids are 1 to 64", good.replace("id = \"passport-office\"", "id = \"Passport Office\"")),
        ("client listed twice", "listed twice", format!("{good}\n[[department.client]]\nclient_id = \"passport-app\"\njwks = {{ keys = [{EC_KEY}] }}\n")),
        ("plain http redirect uri", "`redirect_uris`: `http://passport.example/cb` must use https", format!("{good}redirect_uris = [\"http://passport.example/cb\"]\n")),
        ("redirect uri with a fragment", "`redirect_uris`: `https://passport.example/cb#x` has a fragment", format!("{good}redirect_uris = [\"https://passport.example/cb#x\"]\n")),
        ("redirect uri with userinfo", "`redirect_uris`: a URI carries a user name or password", format!("{good}redirect_uris = [\"https://app:c2VjcmV0@passport.example/cb\"]\n")),
        ("redirect uri too long", "is longer than 2048 characters", format!("{good}redirect_uris = [\"https://passport.example/{}\"]\n", "a".repeat(2048))),
        ("too many redirect uris", "`redirect_uris`: 11 URIs, at most 10", format!("{good}redirect_uris = [{}]\n", (0..11).map(|i| format!("\"https://passport.example/cb{i}\"")).collect::<Vec<_>>().join(", "))),
        ("redirect uri listed twice", "`redirect_uris`: `https://passport.example/cb` is listed twice", format!("{good}redirect_uris = [\"https://passport.example/cb\", \"https://passport.example/cb\"]\n")),
        ("relative redirect uri", "`redirect_uris`: `/cb` is not an absolute URL", format!("{good}redirect_uris = [\"/cb\"]\n")),
        ("plain http post-logout uri", "`post_logout_redirect_uris`: `http://passport.example/bye` must use https", format!("{good}post_logout_redirect_uris = [\"http://passport.example/bye\"]\n")),
        ("back-channel uri with a fragment", "`backchannel_logout_uri`: `https://passport.example/logout#x` has a fragment", format!("{good}backchannel_logout_uri = \"https://passport.example/logout#x\"\n")),
    ];
    for (what, expected, text) in cases {
        // A good department first: it must not be written either.
        let text = format!(
            "[[department]]\nid = \"first-dept\"\nname_en = \"F\"\nname_fr = \"F\"\nsector_identifier = \"first.example\"\n{text}"
        );
        let file: RegistryFile = toml::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}"));
        let err = apply(&db, &cat, &file).await.expect_err(what);
        let message = err.to_string();
        assert!(!message.contains("c2VjcmV0"), "{what}: {message}");
        assert!(message.contains(expected), "{what}: {message}");
        assert!(
            departments::get(&db, "first-dept").await.unwrap().is_none(),
            "{what}"
        );
        assert!(
            departments::client(&db, "passport-app")
                .await
                .unwrap()
                .is_none(),
            "{what}"
        );
    }
}

#[tokio::test]
async fn a_pull_source_is_checked_given_its_kind_and_kept_beside_delivery() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let cat = catalogue();
    departments::sync_catalogue(&db, cat.departments())
        .await
        .unwrap();
    let file = parse(
        r#"
[[department]]
id = "vital-statistics"
delivery = { kind = "push", endpoint = "https://vitals.example/tuo/events" }
pull_source = { base_url = "https://vitals.example/tuo", poll_interval_secs = 60, loa = 4 }
"#,
    );
    let applied = apply(&db, &cat, &file).await.unwrap();
    assert_eq!(applied.pull_sources, ["vital-statistics"]);
    let stored = departments::pull_source(&db, "vital-statistics")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored,
        serde_json::json!({"kind": "pull", "base_url": "https://vitals.example/tuo",
            "poll_interval_secs": 60, "loa": 4})
    );
    let vitals = departments::get(&db, "vital-statistics")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(vitals.delivery.unwrap()["kind"], "push", "both kept");
    // A file without `pull_source` leaves it as it is.
    let again = parse("[[department]]\nid = \"vital-statistics\"\n");
    assert!(
        apply(&db, &cat, &again)
            .await
            .unwrap()
            .pull_sources
            .is_empty()
    );
    assert_eq!(
        departments::pull_source(&db, "vital-statistics")
            .await
            .unwrap(),
        Some(stored)
    );
}

#[tokio::test]
async fn sectors_never_change_and_clients_never_move() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let cat = catalogue();
    departments::sync_catalogue(&db, cat.departments())
        .await
        .unwrap();
    let first = parse(&with_key(
        r#"
[[department]]
id = "housing"
name_en = "Housing"
name_fr = "Logement"
sector_identifier = "housing.example"
[[department.client]]
client_id = "housing-app"
jwks = { keys = [KEY] }
"#,
    ));
    apply(&db, &cat, &first).await.unwrap();
    let moved = parse(&with_key(
        r#"
[[department]]
id = "housing"
sector_identifier = "elsewhere.example"
"#,
    ));
    assert!(matches!(
        apply(&db, &cat, &moved).await,
        Err(RegistryError::Department { .. })
    ));
    let stolen = parse(&with_key(
        r#"
[[department]]
id = "revenue-agency"
[[department.client]]
client_id = "housing-app"
jwks = { keys = [KEY] }
"#,
    ));
    let err = apply(&db, &cat, &stolen).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("already registered to department `housing`"),
        "{err}"
    );
}

#[test]
fn jwks_files_are_read_relative_to_the_registry_file() {
    let dir = std::env::temp_dir().join(format!("tuo-registry-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(
        dir.join("keys/app.jwks.json"),
        format!("{{\"keys\": [{EC_KEY_JSON}]}}"),
    )
    .unwrap();
    std::fs::write(
        dir.join("registry.toml"),
        "[[department]]\nid = \"passport-office\"\n[[department.client]]\nclient_id = \"app\"\njwks_file = \"keys/app.jwks.json\"\n",
    )
    .unwrap();
    let file = load(&dir.join("registry.toml")).unwrap();
    let client = &file.department[0].client[0];
    assert_eq!(client.jwks_file, None);
    assert_eq!(client.jwks.as_ref().unwrap()["keys"][0]["kid"], "k1");
    std::fs::write(
        dir.join("bad.toml"),
        "[[department]]\nid = \"x\"\ncolour = \"blue\"\n",
    )
    .unwrap();
    assert!(matches!(
        load(&dir.join("bad.toml")),
        Err(RegistryError::Parse { .. })
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_web_applications_uris_are_stored_as_written_and_served_from_the_registry_copy() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let cat = catalogue();
    departments::sync_catalogue(&db, cat.departments())
        .await
        .unwrap();
    let file = parse(&with_key(
        r#"
[[department]]
id = "revenue-agency"
[[department.client]]
client_id = "cra-web"
jwks = { keys = [KEY] }
redirect_uris = ["https://benefits.revenue.example/callback?tenant=a", "http://127.0.0.1:3000/cb", "http://[::1]:3000/cb", "http://localhost/cb"]
post_logout_redirect_uris = ["https://benefits.revenue.example/"]
backchannel_logout_uri = "https://benefits.revenue.example/logout?from=tuo"
[[department.client]]
client_id = "cra-batch"
jwks = { keys = [KEY] }
"#,
    ));
    apply(&db, &cat, &file).await.unwrap();
    let registry = departments::Registry::default();
    registry.reload(&db).await.unwrap();
    let (web, _) = registry
        .client_with_department(&db, "cra-web")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        web.redirect_uris,
        [
            "https://benefits.revenue.example/callback?tenant=a",
            "http://127.0.0.1:3000/cb",
            "http://[::1]:3000/cb",
            "http://localhost/cb"
        ]
    );
    assert_eq!(
        web.post_logout_redirect_uris,
        ["https://benefits.revenue.example/"]
    );
    assert_eq!(
        web.backchannel_logout_uri.as_deref(),
        Some("https://benefits.revenue.example/logout?from=tuo")
    );
    let (batch, _) = registry
        .client_with_department(&db, "cra-batch")
        .await
        .unwrap()
        .unwrap();
    assert!(batch.redirect_uris.is_empty());
    assert!(batch.post_logout_redirect_uris.is_empty());
    assert_eq!(batch.backchannel_logout_uri, None);

    // A bad URI in a later import changes nothing: the copy, reloaded, still serves the old ones.
    let bad = parse(&with_key(
        r#"
[[department]]
id = "revenue-agency"
[[department.client]]
client_id = "cra-web"
jwks = { keys = [KEY] }
redirect_uris = ["https://benefits.revenue.example/new"]
[[department.client]]
client_id = "cra-batch"
jwks = { keys = [KEY] }
redirect_uris = ["http://batch.revenue.example/cb"]
"#,
    ));
    let err = apply(&db, &cat, &bad).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "client `cra-batch`: `redirect_uris`: `http://batch.revenue.example/cb` must use https (plain http only on 127.0.0.1, localhost or [::1])"
    );
    registry.reload(&db).await.unwrap();
    let (unchanged, _) = registry
        .client_with_department(&db, "cra-web")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unchanged, web);
}
