//! `/templates…`: versioned Handlebars templates, archive, preview.

use notify::{domain::template::TemplateVersion, error::NotifyError, repo::templates};
use serde_json::{Value, json};
use shared::{
    store::{Delete, Key},
    tenant::TenantId,
};

use crate::helpers::{Caller, TENANT_1, TestNotify};

const BASE: &str = "/notify/v1/templates";

fn organizer() -> Caller {
    Caller::t1("organizer")
}

fn welcome() -> Value {
    json!({
        "name": "Welcome",
        "channel": "email",
        "description": "Sent after signup",
        "subject": "Welcome {{user.firstName}}",
        "html": "<p>Hello {{user.firstName}}</p>",
        "text": "Hello {{user.firstName}}",
        "requiredVariables": ["user.firstName"],
        "locales": {
            "fr": {"subject": "Bienvenue {{user.firstName}}", "text": "Bonjour {{user.firstName}}"},
            "pt-BR": {"subject": "Bem-vindo {{user.firstName}}"}
        }
    })
}

fn sms(name: &str) -> Value {
    json!({"name": name, "channel": "sms", "text": "Code {{code}}", "requiredVariables": ["code"]})
}

/// Creates `body` as the organizer; the new template as answered.
async fn create(t: &TestNotify, body: &Value) -> Value {
    let r = t.post(BASE, &organizer(), body).await;
    assert_eq!(r.status, 201, "{}", r.json());
    let created = r.json()["data"].clone();
    let at = format!("{BASE}/{}", id_of(&created));
    assert_eq!(r.header("location"), Some(at.as_str()), "where it is read");
    created
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn names(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_created_template_is_version_1_and_reads_back() {
    let t = TestNotify::new().await;
    let created = create(&t, &welcome()).await;
    assert_eq!(created["version"], 1);
    assert_eq!(created["channel"], "email");
    assert_eq!(created["archived"], false);
    assert_eq!(created["updatedBy"], "organizer-1");
    assert_eq!(created["createdAt"], created["updatedAt"]);
    assert_eq!(
        created["locales"]["fr"]["text"],
        "Bonjour {{user.firstName}}"
    );
    assert!(uuid::Uuid::parse_str(created["id"].as_str().unwrap()).is_ok());

    // Any role of the tenant reads it, the latest and by version.
    let path = format!("{BASE}/{}", id_of(&created));
    let r = t.get(&path, &Caller::t1("user")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"], created);
    let r = t
        .get(&format!("{path}?version=1"), &Caller::t1("user"))
        .await;
    assert_eq!(r.json()["data"], created);
}

#[tokio::test]
async fn a_put_saves_version_2_and_version_1_stays_readable() {
    let t = TestNotify::new().await;
    let created = create(&t, &welcome()).await;
    let path = format!("{BASE}/{}", id_of(&created));
    t.advance(chrono::Duration::minutes(5));

    let mut body = welcome();
    body["version"] = json!(1);
    body["subject"] = json!("Welcome aboard {{user.firstName}}");
    body.as_object_mut().unwrap().remove("locales");
    let r = t.put(&path, &Caller::t1("admin"), &body).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let v2 = r.json()["data"].clone();
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["subject"], "Welcome aboard {{user.firstName}}");
    assert_eq!(v2["locales"], json!({}));
    assert_eq!(v2["createdAt"], created["createdAt"]);
    assert_ne!(v2["updatedAt"], created["updatedAt"]);
    assert_eq!(v2["updatedBy"], "admin-1");

    assert_eq!(t.get(&path, &organizer()).await.json()["data"], v2);
    let old = t.get(&format!("{path}?version=1"), &organizer()).await;
    assert_eq!(old.status, 200);
    assert_eq!(old.json()["data"], created);
    t.get(&format!("{path}?version=3"), &organizer())
        .await
        .assert_error(404, "ERR_NOTIFY_TEMPLATE_NOT_FOUND");
    t.get(&format!("{path}?version=two"), &organizer())
        .await
        .assert_error(400, "ERR_NOTIFY_VALIDATION");
}

#[tokio::test]
async fn a_put_at_a_stale_version_is_409_and_changes_nothing() {
    let t = TestNotify::new().await;
    let created = create(&t, &welcome()).await;
    let path = format!("{BASE}/{}", id_of(&created));
    let mut body = welcome();
    body["version"] = json!(1);
    assert_eq!(t.put(&path, &organizer(), &body).await.status, 200);

    // A second writer that also read version 1.
    body["subject"] = json!("Lost update {{user.firstName}}");
    let r = t.put(&path, &organizer(), &body).await;
    r.assert_error(409, "ERR_NOTIFY_CONFLICT");
    assert_eq!(r.json()["error"]["details"]["currentVersion"], 2);
    let latest = t.get(&path, &organizer()).await.json()["data"].clone();
    assert_eq!(latest["version"], 2);
    assert_eq!(latest["subject"], "Welcome {{user.firstName}}");

    // The channel is not the caller's to change.
    body["version"] = json!(2);
    body["channel"] = json!("sms");
    let r = t.put(&path, &organizer(), &body).await;
    r.assert_error(400, "ERR_NOTIFY_VALIDATION");
    assert_eq!(
        r.json()["error"]["details"]["fields"][0]["field"],
        "channel"
    );
}

#[tokio::test]
async fn delete_archives_keeps_it_readable_and_refuses_sends() {
    let t = TestNotify::new().await;
    let created = create(&t, &welcome()).await;
    let id = id_of(&created);
    let path = format!("{BASE}/{id}");

    let r = t.delete(&path, &Caller::t1("admin")).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let archived = r.json()["data"].clone();
    assert_eq!(archived["archived"], true);
    assert_eq!(archived["version"], 1);
    assert!(archived["archivedAt"].is_string());
    // Archiving again is harmless and keeps the first time.
    t.advance(chrono::Duration::minutes(1));
    let again = t.delete(&path, &Caller::t1("admin")).await;
    assert_eq!(again.json()["data"]["archivedAt"], archived["archivedAt"]);

    let read = t
        .get(&format!("{path}?version=1"), &Caller::t1("user"))
        .await;
    assert_eq!(read.json()["data"]["archived"], true);
    let tenant = TenantId::parse(TENANT_1).unwrap();
    let store = t.state.store();
    let err = templates::get_active(store, &tenant, &id)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, NotifyError::TemplateArchived { id: archived } if *archived == id),
        "{err:?}"
    );
    assert!(
        templates::get(store, &tenant, &id, None)
            .await
            .unwrap()
            .unwrap()
            .archived
    );

    // No new versions of an archived template.
    let mut body = welcome();
    body["version"] = json!(1);
    let r = t.put(&path, &organizer(), &body).await;
    r.assert_error(409, "ERR_NOTIFY_CONFLICT");
    assert_eq!(
        r.json()["error"]["details"],
        json!({"templateId": id, "archived": true})
    );
}

#[tokio::test]
async fn a_send_s_render_failure_names_the_locale_s_part_and_the_variable_in_details() {
    let t = TestNotify::new().await;
    let mut body = welcome();
    body["locales"]["fr"]["text"] = json!("Bonjour {{user.firstName}},\n  votre code : {{code}}");
    let id = id_of(&create(&t, &body).await);
    let mut send = template_send(&id);
    send["locale"] = json!("fr-CA");
    let r = t.post("/notify/v1/send", &organizer(), &send).await;
    r.assert_error(422, "ERR_NOTIFY_TEMPLATE_RENDERING_FAILED");
    assert_eq!(
        r.json()["error"]["message"],
        "the template could not be rendered: locales.fr.text (line 2, column 16): variable \
         `code` is missing"
    );
    assert_eq!(
        r.json()["error"]["details"],
        json!({"field": "locales.fr.text", "part": "text", "line": 2, "column": 16, "variable": "code"})
    );
    assert!(t.tp.outbox.sent().is_empty());
}

/// A send of template `id` to ada@example.com.
fn template_send(id: &str) -> Value {
    json!({
        "channels": ["email"],
        "recipients": [{"email": "ada@example.com"}],
        "templateId": id,
        "variables": {"user": {"firstName": "Ada"}},
        "category": "transactional",
    })
}

#[tokio::test]
async fn a_send_of_an_archived_template_is_409_saying_so_and_sends_nothing() {
    let t = TestNotify::new().await;
    let id = id_of(&create(&t, &welcome()).await);
    let path = format!("{BASE}/{id}");
    assert_eq!(t.delete(&path, &Caller::t1("admin")).await.status, 200);

    // The id in its other spelling names the same template, which the details echo.
    let send = template_send(&id.to_uppercase());
    let test_send = json!({"templateId": id, "variables": {"user": {"firstName": "Ada"}}});
    for (route, body) in [
        ("/notify/v1/send", &send),
        ("/notify/v1/send/test", &test_send),
    ] {
        let r = t.post(route, &organizer(), body).await;
        r.assert_error(409, "ERR_NOTIFY_CONFLICT");
        assert_eq!(
            r.json()["error"]["message"],
            "the template is archived: send with an active template, or create a new one",
            "{route}"
        );
        assert_eq!(
            r.json()["error"]["details"],
            json!({"field": "templateId", "templateId": id, "archived": true}),
            "{route}"
        );
    }
    assert!(t.tp.outbox.sent().is_empty());
    assert!(
        t.get("/notify/v1/deliveries", &organizer()).await.json()["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // It stays readable and previewable (for the deliveries that used it).
    let r = t
        .post(
            &format!("{path}/preview"),
            &organizer(),
            &json!({"variables": {"user": {"firstName": "Ada"}}}),
        )
        .await;
    assert_eq!(r.json()["data"]["subject"], "Welcome Ada", "{}", r.json());

    // A template that does not exist, or is another tenant's, is still 404.
    let unknown = template_send("0195f3a2-7c1e-7d4a-9b2e-3f4a5b6c7d8e");
    t.post("/notify/v1/send", &organizer(), &unknown)
        .await
        .assert_error(404, "ERR_NOTIFY_TEMPLATE_NOT_FOUND");
    t.post("/notify/v1/send", &Caller::t3("organizer"), &send)
        .await
        .assert_error(404, "ERR_NOTIFY_TEMPLATE_NOT_FOUND");
}

#[tokio::test]
async fn archived_true_lists_only_archived_templates_and_pages() {
    let t = TestNotify::new().await;
    for name in ["Alpha", "Bravo", "Charlie", "Delta"] {
        let id = id_of(&create(&t, &sms(name)).await);
        if name != "Bravo" {
            let r = t
                .delete(&format!("{BASE}/{id}"), &Caller::t1("admin"))
                .await;
            assert_eq!(r.status, 200);
        }
    }
    let user = Caller::t1("user");
    let get = async |query: &str| t.get(&format!("{BASE}?{query}"), &user).await;

    let archived = get("archived=true").await;
    assert_eq!(archived.status, 200, "{}", archived.json());
    assert_eq!(names(&archived.json()), ["Alpha", "Charlie", "Delta"]);
    assert!(
        archived.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["archived"] == true)
    );
    assert_eq!(names(&get("archived=false").await.json()), ["Bravo"]);
    assert_eq!(
        names(&get("archived=true&includeArchived=true").await.json()),
        ["Alpha", "Charlie", "Delta"]
    );
    assert_eq!(
        names(&get("archived=true&name=del").await.json()),
        ["Delta"]
    );

    // Two per page; the cursor is bound to the filter.
    let first = get("archived=true&limit=2").await.json();
    assert_eq!(names(&first), ["Alpha", "Charlie"]);
    let cursor = first["page"]["next_cursor"].as_str().unwrap();
    let second = get(&format!("archived=true&limit=2&cursor={cursor}"))
        .await
        .json();
    assert_eq!(names(&second), ["Delta"]);
    assert_eq!(second["page"]["has_more"], false);
    get(&format!("limit=2&cursor={cursor}"))
        .await
        .assert_error(400, "ERR_NOTIFY_INVALID_CURSOR");

    for query in [
        "archived=yes",
        "archived=false&includeArchived=true",
        "archived=true&archived=false",
    ] {
        let r = get(query).await;
        r.assert_error(400, "ERR_NOTIFY_VALIDATION");
        assert_eq!(
            r.json()["error"]["details"]["fields"][0]["field"],
            "archived",
            "{query}"
        );
    }
    let r = get("archived=true&archived=false").await;
    let issue = &r.json()["error"]["details"]["fields"][0]["issue"];
    assert_eq!(issue, "is given more than once (give one value)");
    // A name the list does not read may be repeated.
    assert_eq!(get("utm=a&utm=b").await.status, 200);
}

#[tokio::test]
async fn get_active_answers_the_latest_version_for_sends() {
    let t = TestNotify::new().await;
    let id = id_of(&create(&t, &welcome()).await);
    let mut body = welcome();
    body["version"] = json!(1);
    assert_eq!(
        t.put(&format!("{BASE}/{id}"), &organizer(), &body)
            .await
            .status,
        200
    );
    let tenant = TenantId::parse(TENANT_1).unwrap();
    let v = templates::get_active(t.state.store(), &tenant, &id)
        .await
        .unwrap();
    assert_eq!((v.version, v.archived), (2, false));
    let other = TenantId::parse(crate::helpers::TENANT_3).unwrap();
    for (tenant, id) in [
        (&other, id.as_str()),
        (&tenant, "not-a-uuid"),
        (&tenant, "0195f3a2-7c1e-7d4a-9b2e-3f4a5b6c7d8e"),
    ] {
        let err = templates::get_active(t.state.store(), tenant, id)
            .await
            .unwrap_err();
        assert!(matches!(err, NotifyError::TemplateNotFound), "{err:?}");
    }
}

#[tokio::test]
async fn the_list_filters_by_channel_name_and_archive_and_pages() {
    let t = TestNotify::new().await;
    for name in ["Alpha code", "beta code", "Alpine code"] {
        create(&t, &sms(name)).await;
    }
    let welcome_id = id_of(&create(&t, &welcome()).await);
    let gone = id_of(&create(&t, &sms("Zulu code")).await);
    assert_eq!(
        t.delete(&format!("{BASE}/{gone}"), &Caller::t1("admin"))
            .await
            .status,
        200
    );
    let user = Caller::t1("user");

    let all = t.get(BASE, &user).await;
    assert_eq!(all.status, 200);
    assert_eq!(
        names(&all.json()),
        ["Alpha code", "Alpine code", "beta code", "Welcome"]
    );
    let summary = &all.json()["data"][3];
    assert_eq!(summary["id"], welcome_id.as_str());
    assert_eq!(summary["locales"], json!(["fr", "pt-BR"]));
    assert!(
        summary.get("html").is_none(),
        "sources stay out of the list"
    );

    let sms_only = t.get(&format!("{BASE}?channel=sms"), &user).await.json();
    assert_eq!(names(&sms_only), ["Alpha code", "Alpine code", "beta code"]);
    let prefix = t.get(&format!("{BASE}?name=ALP"), &user).await.json();
    assert_eq!(names(&prefix), ["Alpha code", "Alpine code"]);
    let with_archived = t
        .get(&format!("{BASE}?includeArchived=true"), &user)
        .await
        .json();
    assert_eq!(names(&with_archived).last().unwrap(), "Zulu code");

    // Two per page, the cursor bound to the filters.
    let first = t
        .get(&format!("{BASE}?limit=2&channel=sms"), &user)
        .await
        .json();
    assert_eq!(names(&first), ["Alpha code", "Alpine code"]);
    assert_eq!(first["page"]["has_more"], true);
    let cursor = first["page"]["next_cursor"].as_str().unwrap();
    let second = t
        .get(
            &format!("{BASE}?limit=2&channel=sms&cursor={cursor}"),
            &user,
        )
        .await
        .json();
    assert_eq!(names(&second), ["beta code"]);
    assert_eq!(second["page"]["has_more"], false);
    t.get(
        &format!("{BASE}?limit=2&channel=email&cursor={cursor}"),
        &user,
    )
    .await
    .assert_error(400, "ERR_NOTIFY_INVALID_CURSOR");

    t.get(&format!("{BASE}?channel=fax"), &user)
        .await
        .assert_error(400, "ERR_NOTIFY_INVALID_CHANNEL");
    t.get(&format!("{BASE}?includeArchived=yes"), &user)
        .await
        .assert_error(400, "ERR_NOTIFY_VALIDATION");
    // Another tenant sees none of them.
    assert_eq!(
        names(&t.get(BASE, &Caller::t3("admin")).await.json()),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_preview_is_never_stored_under_an_idempotency_key() {
    let t = TestNotify::new().await;
    let id = id_of(&create(&t, &welcome()).await);
    let path = format!("{BASE}/{id}/preview");
    for name in ["Ann", "Bob"] {
        let body = json!({"variables": {"user": {"firstName": name}}});
        let r = t
            .call_with(
                "POST",
                &path,
                Some(&organizer()),
                Some(&body),
                &[("idempotency-key", "p-1")],
            )
            .await;
        // Rendered afresh each time: neither replayed nor refused as a reused key.
        assert_eq!(r.status, 200, "{}", r.json());
        assert_eq!(r.json()["data"]["text"], format!("Hello {name}"));
        assert_eq!(r.header("idempotent-replayed"), None);
    }
}

#[tokio::test]
async fn preview_escapes_html_in_the_html_body_only() {
    let t = TestNotify::new().await;
    let id = id_of(&create(&t, &welcome()).await);
    let r = t
        .post(
            &format!("{BASE}/{id}/preview"),
            &organizer(),
            &json!({"variables": {"user": {"firstName": "<b>Ann</b>"}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let d = &r.json()["data"];
    assert_eq!(d["html"], "<p>Hello &lt;b&gt;Ann&lt;/b&gt;</p>");
    assert_eq!(d["text"], "Hello <b>Ann</b>");
    assert_eq!(d["subject"], "Welcome <b>Ann</b>");
    assert_eq!(d["version"], 1);
    assert!(d["locale"].is_null());
}

#[tokio::test]
async fn a_delivery_shows_the_locale_its_send_asked_for() {
    let t = TestNotify::new().await;
    let id = id_of(&create(&t, &welcome()).await);
    let r = t
        .post(
            "/notify/v1/send",
            &organizer(),
            &json!({"channels": ["email"], "recipients": [{"email": "ann@example.com"}],
                "templateId": id, "variables": {"user": {"firstName": "Ann"}},
                "locale": "fr-CA", "category": "transactional"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    let delivery = r.json()["data"]["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = t
        .get(&format!("/notify/v1/deliveries/{delivery}"), &organizer())
        .await
        .json();
    assert_eq!(
        (d["data"]["locale"].as_str(), d["data"]["subject"].as_str()),
        (Some("fr-CA"), Some("Bienvenue Ann"))
    );
}

#[tokio::test]
async fn preview_picks_the_locale_variant_then_its_language_then_the_default() {
    let t = TestNotify::new().await;
    let id = id_of(&create(&t, &welcome()).await);
    let preview = |locale: &'static str| {
        let t = &t;
        let path = format!("{BASE}/{id}/preview");
        async move {
            let body = json!({"variables": {"user": {"firstName": "Ann"}}, "locale": locale});
            let r = t.post(&path, &organizer(), &body).await;
            assert_eq!(r.status, 200, "{}", r.json());
            r.json()["data"].clone()
        }
    };
    let fr = preview("fr-CA").await;
    assert_eq!(fr["locale"], "fr");
    assert_eq!(fr["subject"], "Bienvenue Ann");
    assert_eq!(fr["text"], "Bonjour Ann");
    assert_eq!(fr["html"], "<p>Hello Ann</p>", "the variant has no html");
    let br = preview("pt-BR").await;
    assert_eq!(
        (br["locale"].as_str(), br["subject"].as_str()),
        (Some("pt-BR"), Some("Bem-vindo Ann"))
    );
    assert_eq!(br["text"], "Hello Ann");
    let de = preview("de").await;
    assert!(de["locale"].is_null());
    assert_eq!(de["subject"], "Welcome Ann");

    t.post(
        &format!("{BASE}/{id}/preview"),
        &organizer(),
        &json!({"locale": "not a tag"}),
    )
    .await
    .assert_error(400, "ERR_NOTIFY_VALIDATION");
}

#[tokio::test]
async fn preview_lists_every_missing_required_variable() {
    let t = TestNotify::new().await;
    let mut body = welcome();
    body["requiredVariables"] = json!(["user.firstName", "order.number", "code"]);
    let id = id_of(&create(&t, &body).await);
    let r = t
        .post(
            &format!("{BASE}/{id}/preview"),
            &organizer(),
            &json!({"variables": {"user": {"firstName": null}, "code": "42"}}),
        )
        .await;
    r.assert_error(400, "ERR_NOTIFY_MISSING_TEMPLATE_VARIABLES");
    assert_eq!(
        r.json()["error"]["details"]["missing"],
        json!(["user.firstName", "order.number"])
    );

    t.post(
        &format!("{BASE}/{id}/preview"),
        &organizer(),
        &json!({"variables": [1]}),
    )
    .await
    .assert_error(400, "ERR_NOTIFY_VALIDATION");
}

#[tokio::test]
async fn loops_that_would_run_away_are_422_before_they_run() {
    let t = TestNotify::new().await;
    // Writes nothing, so the 256 KiB output cap never trips: 10^9 passes unbudgeted.
    let body = json!({
        "name": "Loops",
        "channel": "email",
        "subject": "s",
        "text": "{{#each @root.a}}{{#each @root.a}}{{#each @root.a}}{{/each}}{{/each}}{{/each}}"
    });
    let id = id_of(&create(&t, &body).await);
    let r = t
        .post(
            &format!("{BASE}/{id}/preview"),
            &organizer(),
            &json!({"variables": {"a": vec![0; 1000]}}),
        )
        .await;
    r.assert_error(422, "ERR_NOTIFY_TEMPLATE_RENDERING_FAILED");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("text: rendering it would take more than 100000 steps"),
        "{}",
        r.json()
    );
    // The same template over a short list renders.
    let r = t
        .post(
            &format!("{BASE}/{id}/preview"),
            &organizer(),
            &json!({"variables": {"a": [1, 2, 3]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());

    // A comparison costs what it compares: 5,000 of a 50,000-item list (~100 KiB of
    // variables) is refused before it runs, and the same template over small data renders.
    let body = json!({
        "name": "Compares",
        "channel": "sms",
        "text": "{{#each rows}}{{#if (eq @root.big @root.big)}}x{{/if}}{{/each}}"
    });
    let id = id_of(&create(&t, &body).await);
    let preview = |rows: usize, big: usize| json!({"variables": {"rows": vec![0; rows], "big": vec![0; big]}});
    let r = t
        .post(
            &format!("{BASE}/{id}/preview"),
            &organizer(),
            &preview(5_000, 50_000),
        )
        .await;
    r.assert_error(422, "ERR_NOTIFY_TEMPLATE_RENDERING_FAILED");
    let r = t
        .post(
            &format!("{BASE}/{id}/preview"),
            &organizer(),
            &preview(3, 10),
        )
        .await;
    assert_eq!(r.json()["data"]["text"], "xxx", "{}", r.json());
}

#[tokio::test]
async fn a_source_with_too_many_tags_for_its_length_is_400_where_it_crosses() {
    let t = TestNotify::new().await;
    // ~3 s of compiling in release, at the save and at every send.
    let text = format!("Hi\n{}", "{{a}}".repeat(24_576));
    let r = t
        .post(
            BASE,
            &organizer(),
            &json!({"name": "Heavy", "channel": "in_app", "text": text}),
        )
        .await;
    r.assert_error(400, "ERR_NOTIFY_INVALID_TEMPLATE");
    assert_eq!(
        r.json()["error"]["details"],
        json!({"field": "text", "line": 2, "column": 22_361})
    );
    assert_eq!(
        names(&t.get(BASE, &organizer()).await.json()),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_render_failure_is_422_naming_the_part_and_position() {
    let t = TestNotify::new().await;
    let body = json!({
        "name": "Broken",
        "channel": "push",
        "subject": "Hi",
        "text": "Hello\n{{user.nickname}}"
    });
    let id = id_of(&create(&t, &body).await);
    let r = t
        .post(
            &format!("{BASE}/{id}/preview"),
            &organizer(),
            &json!({"variables": {}}),
        )
        .await;
    r.assert_error(422, "ERR_NOTIFY_TEMPLATE_RENDERING_FAILED");
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("text (line 2, column 1): variable `user.nickname` is missing"),
        "{message}"
    );
    // The same in details, for a client that points at it without parsing the message.
    assert_eq!(
        r.json()["error"]["details"],
        json!({"field": "text", "part": "text", "line": 2, "column": 1, "variable": "user.nickname"})
    );

    // What can never render is refused when saved, with its position, and not stored.
    for (text, column, want) in [
        (
            "Hi\n{{> footer}}",
            1,
            "partials such as {{> name}} are not supported",
        ),
        ("Hi\n  {{shout name}}", 3, "`shout` is not a helper"),
    ] {
        let r = t
            .post(
                BASE,
                &organizer(),
                &json!({"name": "Never", "channel": "in_app", "text": text}),
            )
            .await;
        r.assert_error(400, "ERR_NOTIFY_INVALID_TEMPLATE");
        let error = &r.json()["error"];
        assert_eq!(
            error["details"],
            json!({"field": "text", "line": 2, "column": column})
        );
        assert!(error["message"].as_str().unwrap().contains(want), "{error}");
    }
    let listed = t.get(BASE, &organizer()).await.json();
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["name"] != "Never"),
        "{listed}"
    );
}

#[tokio::test]
async fn invalid_handlebars_is_400_with_the_field_line_and_column() {
    let t = TestNotify::new().await;
    let mut body = welcome();
    body["html"] = json!("<p>\n  Hello {{user.firstName</p>");
    let r = t.post(BASE, &organizer(), &body).await;
    r.assert_error(400, "ERR_NOTIFY_INVALID_TEMPLATE");
    assert_eq!(
        r.json()["error"]["details"],
        json!({"field": "html", "line": 2, "column": 25})
    );

    let mut body = welcome();
    body["locales"]["fr"]["text"] = json!("{{#if a}}x{{/each}}");
    let r = t.post(BASE, &organizer(), &body).await;
    r.assert_error(400, "ERR_NOTIFY_INVALID_TEMPLATE");
    assert_eq!(
        r.json()["error"]["details"],
        json!({"field": "locales.fr.text", "line": 1, "column": 11})
    );
    // Nothing was stored.
    assert_eq!(
        names(&t.get(BASE, &organizer()).await.json()),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let t = TestNotify::new().await;
    let field_of = |r: &shared::testing::Reply| {
        r.assert_error(400, "ERR_NOTIFY_VALIDATION");
        r.error_fields()
    };
    let mut no_subject = welcome();
    no_subject.as_object_mut().unwrap().remove("subject");
    assert_eq!(
        field_of(&t.post(BASE, &organizer(), &no_subject).await),
        ["subject"]
    );

    let mut sms_html = sms("Code");
    sms_html["html"] = json!("<p>x</p>");
    assert_eq!(
        field_of(&t.post(BASE, &organizer(), &sms_html).await),
        ["html"]
    );

    let mut bad = welcome();
    bad["name"] = json!("x".repeat(101));
    bad["requiredVariables"] = json!(["user.firstName", "not valid"]);
    bad["locales"] = json!({"french": {"text": "x"}});
    assert_eq!(
        field_of(&t.post(BASE, &organizer(), &bad).await),
        ["name", "requiredVariables[1]", "locales.french"]
    );

    let mut unknown = welcome();
    unknown["bodyHtml"] = json!("x");
    assert_eq!(
        field_of(&t.post(BASE, &organizer(), &unknown).await),
        ["bodyHtml"]
    );

    let mut channel = welcome();
    channel["channel"] = json!("fax");
    let r = t.post(BASE, &organizer(), &channel).await;
    r.assert_error(400, "ERR_NOTIFY_INVALID_CHANNEL");
    assert_eq!(r.json()["error"]["details"]["field"], "channel");
    assert_eq!(
        r.json()["error"]["details"]["fields"][0]["field"],
        "channel"
    );
}

#[tokio::test]
async fn unknown_foreign_and_malformed_ids_are_template_not_found() {
    let t = TestNotify::new().await;
    let id = id_of(&create(&t, &welcome()).await);
    let foreign = Caller::t3("admin");
    let mut put = welcome();
    put["version"] = json!(1);
    let preview = json!({"variables": {"user": {"firstName": "Ann"}}});
    for (who, id) in [
        (&foreign, id.as_str()),
        (&Caller::t1("admin"), "0195f3a2-7c1e-7d4a-9b2e-3f4a5b6c7d8e"),
        (&Caller::t1("admin"), "not-a-uuid"),
        (&Caller::t1("admin"), "T%23x"),
    ] {
        let path = format!("{BASE}/{id}");
        t.get(&path, who)
            .await
            .assert_error(404, "ERR_NOTIFY_TEMPLATE_NOT_FOUND");
        t.put(&path, who, &put)
            .await
            .assert_error(404, "ERR_NOTIFY_TEMPLATE_NOT_FOUND");
        t.delete(&path, who)
            .await
            .assert_error(404, "ERR_NOTIFY_TEMPLATE_NOT_FOUND");
        t.post(&format!("{path}/preview"), who, &preview)
            .await
            .assert_error(404, "ERR_NOTIFY_TEMPLATE_NOT_FOUND");
    }
    // The foreign tries changed nothing.
    let mine = t.get(&format!("{BASE}/{id}"), &organizer()).await.json()["data"].clone();
    assert_eq!(
        (mine["version"].as_i64(), mine["archived"].as_bool()),
        (Some(1), Some(false))
    );
}

#[tokio::test]
async fn each_route_needs_its_least_role() {
    let t = TestNotify::new().await;
    let id = id_of(&create(&t, &welcome()).await);
    let path = format!("{BASE}/{id}");
    let user = Caller::t1("user");
    t.post(BASE, &user, &welcome())
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    let mut put = welcome();
    put["version"] = json!(1);
    t.put(&path, &user, &put)
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    t.post(&format!("{path}/preview"), &user, &json!({}))
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    t.delete(&path, &organizer())
        .await
        .assert_error(403, "ERR_NOTIFY_FORBIDDEN");
    t.call("GET", BASE, None, None)
        .await
        .assert_error(401, "ERR_NOTIFY_UNAUTHORIZED");
    assert_eq!(t.get(&path, &user).await.status, 200);
    assert_eq!(t.get(BASE, &user).await.status, 200);
    // Nothing changed.
    let v = t.get(&path, &user).await.json()["data"].clone();
    assert_eq!(
        (v["version"].as_i64(), v["archived"].as_bool()),
        (Some(1), Some(false))
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_the_same_template() {
    let t = TestNotify::new().await;
    let headers = [("idempotency-key", "create-welcome-1")];
    let body = welcome();
    let first = t
        .call_with("POST", BASE, Some(&organizer()), Some(&body), &headers)
        .await;
    assert_eq!(first.status, 201);
    let again = t
        .call_with("POST", BASE, Some(&organizer()), Some(&body), &headers)
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json()["data"], first.json()["data"]);
    assert!(first.header("location").is_some());
    assert_eq!(again.header("location"), first.header("location"));
    let list = t.get(BASE, &organizer()).await.json();
    assert_eq!(names(&list), ["Welcome"], "one template created");

    // Same key, another body: refused.
    t.call_with(
        "POST",
        BASE,
        Some(&organizer()),
        Some(&sms("Other")),
        &headers,
    )
    .await
    .assert_error(422, "ERR_NOTIFY_IDEMPOTENCY_KEY_REUSED");
}

/// The `welcome` template, created: its id, its tenant and its version 1 as the repo
/// reads it.
async fn welcome_v1(t: &TestNotify) -> (String, TenantId, TemplateVersion) {
    let id = id_of(&create(t, &welcome()).await);
    let tenant = TenantId::parse(TENANT_1).unwrap();
    let v1 = templates::get(t.state.store(), &tenant, &id, None)
        .await
        .unwrap()
        .unwrap();
    (id, tenant, v1)
}

/// The version after `v` with another subject.
fn next_version(v: &TemplateVersion, subject: &str) -> TemplateVersion {
    let mut next = v.clone();
    next.version = v.version + 1;
    next.subject = Some(subject.into());
    next
}

#[tokio::test]
async fn a_save_that_lost_the_race_is_a_version_conflict() {
    let t = TestNotify::new().await;
    let (id, tenant, v1) = welcome_v1(&t).await;
    let store = t.state.store();
    let v2 = next_version(&v1, "First writer");
    assert!(templates::save_version(store, &tenant, &v2).await.unwrap());
    // A second writer that read version 1 reaches the store after the first.
    let late = next_version(&v1, "Second writer");
    let err = templates::save_version(store, &tenant, &late)
        .await
        .unwrap_err();
    assert!(
        matches!(err, NotifyError::VersionConflict { current: 2 }),
        "{err:?}"
    );
    let latest = templates::get(store, &tenant, &id, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.subject.as_deref(), Some("First writer"));

    // One racing an archive is told so.
    assert_eq!(
        t.delete(&format!("{BASE}/{id}"), &Caller::t1("admin"))
            .await
            .status,
        200
    );
    let mut v3 = latest.clone();
    v3.version = 3;
    assert!(!templates::save_version(store, &tenant, &v3).await.unwrap());
    assert!(
        templates::get(store, &tenant, &id, Some(3))
            .await
            .unwrap()
            .is_none()
    );
}

/// A read is one query of the partition's last two items; a save committing meanwhile
/// can show in the head and not yet in its version item. The reader then wants the
/// version the head names, never the older one the query found next to it.
#[tokio::test]
async fn a_head_ahead_of_the_versions_read_is_never_answered_with_an_older_version() {
    let t = TestNotify::new().await;
    let (id, tenant, v1) = welcome_v1(&t).await;
    let store = t.state.store();
    let v2 = next_version(&v1, "Second");
    assert!(templates::save_version(store, &tenant, &v2).await.unwrap());
    assert_eq!(
        templates::get(store, &tenant, &id, None).await.unwrap(),
        Some(v2.clone())
    );

    // The head says 2; version 2's item is not there (as if not yet seen).
    let v2_key = Key::tenant(&tenant, &["TPL", &id], "V#000002");
    store.delete(Delete::new(v2_key)).await.unwrap();
    let latest = templates::get(store, &tenant, &id, None).await.unwrap();
    assert_eq!(latest, None, "version 1 answered for the head's version 2");
    // Version 1 is still read by number (head and version, one batch read).
    let first = templates::get(store, &tenant, &id, Some(1)).await.unwrap();
    assert_eq!(first, Some(v1));
}

#[tokio::test]
async fn a_large_html_body_is_stored_and_read_back() {
    let t = TestNotify::new().await;
    let mut body = welcome();
    let html = format!("<p>{}</p>{{{{user.firstName}}}}", "x".repeat(240 * 1024));
    body["html"] = json!(html);
    let id = id_of(&create(&t, &body).await);
    let r = t.get(&format!("{BASE}/{id}"), &organizer()).await;
    assert_eq!(r.json()["data"]["html"].as_str(), Some(html.as_str()));
    let r = t
        .post(
            &format!("{BASE}/{id}/preview"),
            &organizer(),
            &json!({"variables": {"user": {"firstName": "Ann"}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json()["error"]);
    assert!(
        r.json()["data"]["html"]
            .as_str()
            .unwrap()
            .ends_with("</p>Ann")
    );
}

#[test]
fn the_document_describes_every_template_route() {
    let doc = notify::openapi();
    let described = shared::openapi::routes_of(&doc);
    for (method, path) in notify::routes::templates::ROUTES {
        assert!(
            described.contains(&(method.to_string(), path.to_string())),
            "{method} {path}"
        );
    }
    let json = serde_json::to_value(&doc).unwrap();
    for schema in [
        "TemplateVersion",
        "TemplateSummary",
        "NewTemplate",
        "TemplateUpdate",
        "LocaleVariant",
        "PreviewRequest",
        "TemplatePreview",
    ] {
        assert!(
            json["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }
}

/// A rare filter over many templates reads at most `MAX_SCANNED` per page: a short page
/// with a cursor instead of one request reading the whole partition (which in AWS could
/// outlast the gateway's 30 s). On the memory store whatever the run: the cap is ours,
/// and 1,000 writes through the serial emulator would hold up every other suite.
#[tokio::test]
async fn a_filtered_list_over_many_templates_pages_instead_of_reading_them_all() {
    let t = TestNotify::with_store(std::sync::Arc::new(
        shared::store::memory::MemoryStore::new(),
    ));
    let (_, tenant, v1) = welcome_v1(&t).await;
    // 1,000 SMS templates sorting before the email one ("Welcome").
    for i in 0..templates::MAX_SCANNED {
        let mut v = v1.clone();
        v.id = shared::ids::new_id().to_string();
        v.name = format!("A sms {i:04}");
        v.channel = notify::domain::Channel::Sms;
        templates::create(t.state.store(), &tenant, &v)
            .await
            .unwrap();
    }
    let first = t
        .get(&format!("{BASE}?channel=email"), &organizer())
        .await
        .json();
    assert_eq!(names(&first), Vec::<String>::new());
    assert_eq!(first["page"]["has_more"], true, "{first}");
    let cursor = first["page"]["next_cursor"].as_str().unwrap();
    let next = t
        .get(
            &format!("{BASE}?channel=email&cursor={cursor}"),
            &organizer(),
        )
        .await
        .json();
    assert_eq!(names(&next), ["Welcome"]);
    assert_eq!(next["page"]["has_more"], false);
}

#[tokio::test]
async fn a_preview_shows_the_text_part_as_it_would_be_sent() {
    let t = TestNotify::new().await;
    let mut html_only = welcome();
    html_only.as_object_mut().unwrap().remove("text");
    html_only.as_object_mut().unwrap().remove("locales");
    let id = id_of(&create(&t, &html_only).await);
    let body = json!({"variables": {"user": {"firstName": "Ann"}}});
    let r = t
        .post(&format!("{BASE}/{id}/preview"), &organizer(), &body)
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["data"]["html"], "<p>Hello Ann</p>");
    assert_eq!(r.json()["data"]["text"], "Hello Ann", "the HTML's text");
}
